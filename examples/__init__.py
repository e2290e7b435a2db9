"""Example apps on voicewire: `voicewire serve --app examples.real_estate:respond`."""
