"""Campaign feedback: lift of treated over control users per campaign and cell (docs/campaigns.md)."""
