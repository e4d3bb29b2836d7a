import NIOCore

/// Turns a transport stream into `IngestEvent`s: the demuxer's PES payloads become length-prefixed H.264 samples and
/// raw AAC frames, with a configuration event before the first frame and again whenever the SPS/PPS or the ADTS
/// fields change. A pure state machine: bytes in, events out.
///
/// Timestamps are moved so the first decode time is 0 (RTMP starts there too) unless `rebasing` is off (a transcoder's
/// output, stamped on the broadcast's timeline already), and AAC frames after the first in a
/// PES are stamped `1024 / rate` apart (§1.A.2.2 puts one PTS on the PES).
/// Until every stream the PMT announced has its configuration, events are held (at most `maximumHeldEvents`) and
/// then released configurations first, so the first init segment carries both tracks: in a transport stream the
/// first audio PES often follows the first video keyframe.
public struct MPEGTSIngest: Sendable {
    public static let maximumHeldEvents = 512
    private var demuxer: MPEGTSDemuxer
    private var videoConfiguration: [UInt8]?
    private var audioConfiguration: AudioSpecificConfig?
    private var origin: Int64?
    private var held: [IngestEvent] = []
    private var released = false
    /// What was dropped along the way, oldest first (at most 16 kept), for one log line per problem.
    public private(set) var problems: [String] = []
    public private(set) var droppedCount = 0

    public init(maximumPESBytes: Int = 4 << 20, rebasing: Bool = true) {
        demuxer = MPEGTSDemuxer(maximumPESBytes: maximumPESBytes)
        if !rebasing { origin = 0 }
    }

    /// Feeds transport stream bytes. Throws only when the input is not TS at all (`lostSync`).
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(MPEGTSError) -> [IngestEvent] {
        events(for: try demuxer.feed(bytes))
    }

    /// The end of input: the last access units still being assembled.
    public mutating func finish() -> [IngestEvent] {
        var events = events(for: demuxer.flush())
        if !released {
            events = release()
        }
        return events
    }

    private mutating func events(for demuxed: [MPEGTSDemuxer.Event]) -> [IngestEvent] {
        var events: [IngestEvent] = []
        for event in demuxed {
            switch event {
            case let .unit(unit): convert(unit, into: &events)
            case let .dropped(error): note("\(error)")
            }
        }
        guard !released else { return events }
        held += events
        let announced = Set(demuxer.elementaryStreams.values)
        let complete = !announced.isEmpty
            && (!announced.contains(.h264) || videoConfiguration != nil)
            && (!announced.contains(.aacADTS) || audioConfiguration != nil)
        return complete || held.count >= Self.maximumHeldEvents ? release() : []
    }

    /// The held events, configurations first.
    private mutating func release() -> [IngestEvent] {
        released = true
        defer { held = [] }
        let configurations = held.filter { if case .frame = $0 { false } else { true } }
        return configurations + held.filter { if case .frame = $0 { true } else { false } }
    }

    private mutating func note(_ problem: String) {
        droppedCount += 1
        if problems.count >= 16 { problems.removeFirst() }
        problems.append(problem)
    }

    private mutating func convert(_ unit: MPEGTSDemuxer.Unit, into events: inout [IngestEvent]) {
        guard let pts = unit.pts, let dts = unit.dts else {
            note("PES without PTS on PID \(unit.pid)")
            return
        }
        let origin = self.origin ?? dts
        self.origin = origin
        switch unit.streamType {
        case .h264:
            let access = AnnexB.accessUnit(unit.payload)
            if let sps = access.sequenceParameterSets.first, !access.pictureParameterSets.isEmpty {
                do {
                    let record = try AVCDecoderConfiguration(sequenceParameterSet: sps, pictureParameterSets: access.pictureParameterSets).record
                    if record != videoConfiguration {
                        videoConfiguration = record
                        events.append(.videoConfiguration(record))
                    }
                } catch {
                    note("H.264 parameter sets: \(error)")
                }
            }
            guard videoConfiguration != nil, !access.sample.isEmpty else { return }
            events.append(.frame(MediaFrame(track: .video, pts: pts - origin, dts: dts - origin,
                                            isKeyframe: access.isKeyframe || (unit.randomAccess && access.isKeyframe),
                                            data: ByteBuffer(bytes: access.sample))))
        case .aacADTS:
            let frames: [ADTS.Frame]
            do {
                frames = try ADTS.frames(in: unit.payload)
            } catch {
                note("ADTS: \(error)")
                return
            }
            for (index, frame) in frames.enumerated() {
                if frame.configuration != audioConfiguration {
                    audioConfiguration = frame.configuration
                    events.append(.audioConfiguration(frame.configuration.bytes))
                }
                let offset = Int64(index) * Int64(ADTS.samplesPerFrame) * 90_000 / Int64(frame.configuration.samplingFrequency)
                events.append(.frame(MediaFrame(track: .audio, pts: pts - origin + offset, dts: pts - origin + offset,
                                                isKeyframe: true, data: ByteBuffer(bytes: frame.payload))))
            }
        }
    }
}
