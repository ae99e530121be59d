"""Live checks against real servers (nginx, HAProxy) on loopback ports.

``_procs`` finds free loopback ports, starts a server process, waits until it
listens and stops it by its process id, also when something fails.
"""
