"""Exceptions for user mistakes: each carries one line that names the culprit and, where known, the fix."""


class IllusionCraftError(Exception):
    """Base of every error caused by input the user gave (config, data, plugin, checkpoint)."""


class ConfigError(IllusionCraftError, ValueError):
    """A configuration value is out of range or inconsistent with another."""


class RegistryError(IllusionCraftError, LookupError):
    """An unknown name, a name registered twice, or arguments a registered entry does not accept."""


class NameClashError(RegistryError):
    """Two different objects registered under one name of one kind."""


class DataError(IllusionCraftError):
    """Data on disk is missing, empty or unreadable, or a file cannot be written (full disk, no permission)."""


class PluginError(IllusionCraftError):
    """A plugin breaks the contract of the plugin API (an attribute set too late, a hook that is missing)."""


class PluginAPIVersionError(PluginError):
    """A plugin requires a plugin API version this IllusionCraft does not provide."""
