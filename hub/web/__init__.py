"""The HTTP pieces every surface shares: errors, bodies, auth, request ids."""
