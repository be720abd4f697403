namespace VirtShell.Engine.Definitions;

/// <summary>
/// What a definition may name beyond the fields every machine has, as the models of this process declare it: the
/// device types (each gets a constructor in the 'virtshell' module) and the sections a model reads itself
/// (<c>container: {...}</c>). The definition loader knows no model or device by name; it learns them here.
/// </summary>
public sealed record DefinitionVocabulary(IReadOnlyList<string> DeviceTypes, IReadOnlyList<string> ModelSections);
