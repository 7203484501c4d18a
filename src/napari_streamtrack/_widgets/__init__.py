"""The plugin's dock widgets: thin Qt shells that run core functions in workers."""
