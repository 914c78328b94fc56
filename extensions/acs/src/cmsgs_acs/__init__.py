"""cmsgs-acs: the account server of the cmsgs.nats collection."""

__version__ = "0.1.0"
