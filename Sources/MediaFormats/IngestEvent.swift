/// Media and configuration from a publisher, whatever the protocol (RTMP, SRT, …): the one event type every ingest
/// emits into a broadcast, so a broadcast needs no protocol's types.
public enum IngestEvent: Sendable {
    /// An `avcC` record (ISO/IEC 14496-15 §5.3.3.1).
    case videoConfiguration([UInt8])
    /// An AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1).
    case audioConfiguration([UInt8])
    case metadata([String: String])
    case frame(MediaFrame)
}
