from rpi_agent.cli import agent

agent(prog_name="python -m rpi_agent")
