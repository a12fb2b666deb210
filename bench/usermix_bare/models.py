from django.db import models


class Row(models.Model):
    """Keepline's contact table, read as a plain unmanaged model: the baseline's small queryset."""

    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    owner_id = models.IntegerField()

    class Meta:
        managed = False
        db_table = "crm_contact"
        app_label = "usermix_bare"

    def __str__(self):
        return f"{self.first_name} {self.last_name}"
