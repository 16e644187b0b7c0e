"""Who owns what: merchants, their credentials, and the shipments they track."""
