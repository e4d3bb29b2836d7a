/// What went wrong reading an MPEG transport stream. `lostSync` ends a connection (the input is not TS); the others
/// drop one PES or one packet and the demuxer carries on.
public enum MPEGTSError: Error, Equatable, Sendable {
    /// A packet did not start with the sync byte 0x47 (ISO/IEC 13818-1 §2.4.3.2).
    case lostSync(byte: UInt8)
    /// A continuity counter skipped: packets of this PID were lost, and the PES being assembled is dropped.
    case continuity(pid: UInt16, expected: UInt8, got: UInt8)
    /// A PES grew past the limit before it ended: dropped rather than buffered.
    case pesTooLarge(pid: UInt16, limit: Int)
    /// A PES header or PSI section that does not parse.
    case malformed(String)
}

/// What went wrong reading ADTS (ISO/IEC 14496-3 §1.A.2).
public enum ADTSError: Error, Equatable, Sendable {
    case noSyncword(offset: Int)
    case truncated(offset: Int)
    /// `frame_length` smaller than its own header.
    case badFrameLength(Int)
    /// A header whose fields have no AudioSpecificConfig (reserved sampling index, object type).
    case unsupported(String)
}
