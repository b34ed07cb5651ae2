"""Pi install media: the NOOBS/PINN card, the network-install lists, the
Raspberry Pi Imager list and the first-boot files (README.md)."""
