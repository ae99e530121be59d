"""The article's claims, each measured by the static engine or the simulator."""
