"""hotline-router: routes calls to 400/800 hotline numbers over Asterisk ARI."""

__version__ = "0.1.0"
