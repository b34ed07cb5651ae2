"""Server side and tools: the sensOCampus stub, device registration, flashing."""
