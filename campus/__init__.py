"""The campus on one machine: the demo (`neoc demo`: a stub, real-firmware
virtual boards flashed with `neoc flash`, simulated Pi agents) and the fleet
simulation (`neoc fleet simulate`: light devices in one asyncio process,
boot storms, broker outages, bridged Mosquittos). Stands on provisioning/,
virtual_board/, rpi_agent/ and neocampus/; only neoc/ imports it.

Rooms: brokers (Mosquitto topologies beside a stub), light (light devices),
fleet (the simulation and its report), demo (the demo's steps), console
(the demo's live view), procs (children and the process tree).
"""
