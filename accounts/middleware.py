import logging
import zoneinfo

from django.core.cache import cache
from django.utils import timezone, translation

from accounts import services, working_hours
from accounts.sign_in_throttle import CACHE_ERRORS
from config.cache import CacheUnavailable

logger = logging.getLogger(__name__)

TOUCH_EVERY_S = 60


class UserSessionMiddleware:
    """Keep UserSession.last_seen_at fresh, at most one write per session a minute."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        key = getattr(getattr(request, "session", None), "session_key", None)
        authenticated = user is not None and user.is_authenticated
        if key and authenticated and self._due(key):
            services.user_session_touch(session_key=key)
        return response

    @staticmethod
    def _due(key: str) -> bool:
        try:
            return cache.add(f"usersession:seen:{key}", 1, TOUCH_EVERY_S)
        except CacheUnavailable:
            return False  # the cache logged the outage once; not again on every page
        except CACHE_ERRORS as exc:
            # A cache outage must not turn every signed-in page into a 500; last_seen_at waits.
            logger.warning("Session last-seen skipped: the cache is unavailable (%s)", exc)
            return False


# Set by static/js/keepline.js from the browser (Intl): the zone of a person who chose none.
BROWSER_ZONE_COOKIE = "keepline_tz"


class UserTimezoneMiddleware:
    """Show times in the signed-in person's own time zone, else the browser's (stored times stay
    UTC); a zone the server does not know is ignored."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        name = getattr(user, "timezone", "") if user is not None else ""
        if not name and user is not None and user.is_authenticated:
            name = request.COOKIES.get(BROWSER_ZONE_COOKIE, "")[:64]
            if name not in working_hours.known_zones():
                name = ""
        if name:
            try:
                timezone.activate(zoneinfo.ZoneInfo(name))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)


class UserLanguageMiddleware:
    """A signed-in person's chosen language wins over the cookie and the browser's
    Accept-Language (LocaleMiddleware, earlier, chose from those). Blank: keep that choice."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None else ""
        if language and user.is_authenticated and translation.check_for_language(language):
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
