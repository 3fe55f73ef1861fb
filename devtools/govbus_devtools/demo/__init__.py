"""The demo: seed scenarios run end to end on the local runtime."""
