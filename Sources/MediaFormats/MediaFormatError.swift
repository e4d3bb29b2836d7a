/// An error reading bytes of a media format. Each case names what was being read, so a log line says where input went wrong.
public enum MediaFormatError: Error, Equatable, Sendable {
    /// The input ended before the named structure was complete.
    case truncated(String)
    /// The input is not a valid instance of the named structure.
    case invalid(String)
}
