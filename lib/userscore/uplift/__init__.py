"""Uplift: who a contact changes (docs/campaigns.md, "Uplift metrics")."""
