"""Customer channels: WhatsApp Business, SMS (Twilio-compatible) and email through the company's own
accounts. Sits above comms (audit <- accounts <- crm <- comms <- connectors): comms never imports
this app; it fills comms' registries from ConnectorsConfig.ready()."""
