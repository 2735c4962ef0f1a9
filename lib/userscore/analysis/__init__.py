"""User-base analyses of one snapshot: funnels, behaviour paths, profile, consumption and interests."""
