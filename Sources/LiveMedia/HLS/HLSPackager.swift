import DequeModule
import Foundation
import MediaFormats
import NIOCore

/// What the packager did with a frame, for the broadcast to wake its waiting readers.
public enum PackagerEvent: Sendable, Equatable {
    /// Bytes were appended to the open part (the preload-hinted one).
    case chunk(msn: Int, part: Int, bytes: ByteBuffer)
    case partCompleted(msn: Int, part: Int)
    case segmentCompleted(msn: Int)
}

/// Where a part can be found.
public enum PartLookup: Sendable {
    case complete(ByteBuffer)
    /// The part is being written now; what it holds so far.
    case open(ByteBuffer)
    case notFound
}

/// The LL-HLS packager of one rendition (RFC 8216bis): frames in, segments and parts out.
///
/// Segments close at the first keyframe after `segmentTarget`; parts close at the last frame boundary that keeps them
/// within `partTarget`, and are `INDEPENDENT` when they start with a keyframe. A struct with no I/O and no clock reads:
/// the broadcast around it supplies wall-clock anchors and wakes blocked requests.
///
/// TARGETDURATION and PART-TARGET are the configuration's and never grow, whatever the publisher sends:
/// - a segment that would outgrow what rounds to the target duration (TARGETDURATION + 0.5 s) with no keyframe is cut
///   at the frame that would carry it past; the next segment starts without
///   a keyframe (its first part is not `INDEPENDENT`) and closes at the first keyframe, so segments realign;
/// - a frame that comes after a gap too long for the open segment to keep (it would last more than the target duration
///   rounds to) closes the segment where its last frame ended, and the next one starts after `EXT-X-DISCONTINUITY`;
/// - a part's duration is capped at PART-TARGET (a frame after a gap closes the part at the cap).
public struct HLSPackager: Sendable {
    public let configuration: HLSConfiguration
    public let clock: StreamClock

    public private(set) var segments: Deque<Segment> = []
    /// The segment being written, if any; its last part is the open one.
    public private(set) var openSegment: Segment?
    private var openPartStart: Int64 = 0
    private var openPartHasData = false

    public private(set) var muxer: CMAFMuxer?
    public private(set) var initSegments: [Int: ByteBuffer] = [:]
    public private(set) var initVersion = -1
    public private(set) var ended = false
    /// `EXT-X-DISCONTINUITY-SEQUENCE`: discontinuities that have slid out of the playlist.
    public private(set) var discontinuitySequence = 0
    private var nextSequenceNumber = 0
    private var pendingDiscontinuity = false
    private var pendingAudio: [MediaFrame] = []
    private var lastFrameTime: Int64?
    /// Cues on the timeline, in media-time order, each with its `EXT-X-DATERANGE` tag rendered once.
    private(set) var dateRanges: [DateRange] = []
    /// `emsg` boxes of cues added since the last chunk: they go in front of the next one.
    private var pendingEvents: [FMP4.EventMessage] = []

    struct DateRange: Sendable {
        var id: String
        var mediaTime: Int64
        var tag: String
    }

    /// Audio frames are held for the next video frame, but never more than this many (a stalled video track).
    static let maximumPendingAudio = 16
    /// Cues kept for the playlists (the oldest go first), and `emsg` boxes waiting for a chunk.
    public static let maximumCues = 256

    public init(configuration: HLSConfiguration, clock: StreamClock) {
        self.configuration = configuration
        self.clock = clock
    }

    // MARK: Input

    /// Sets the codecs. The first call starts the stream; a later call with other codecs begins a new init segment
    /// after a discontinuity, and returns what closing the open segment did (readers of its open part must hear it).
    @discardableResult
    public mutating func configure(_ newMuxer: CMAFMuxer) -> [PackagerEvent] {
        if let muxer, muxer.video == newMuxer.video, muxer.audio == newMuxer.audio { return [] }
        var events: [PackagerEvent] = []
        if muxer != nil {
            events = interrupt()
        }
        muxer = newMuxer
        initVersion += 1
        initSegments[initVersion] = newMuxer.initSegment
        // Init segments no segment refers to any more are dropped.
        let used = Set(segments.map(\.initVersion) + [initVersion])
        initSegments = initSegments.filter { used.contains($0.key) }
        return events
    }

    /// Numbers the next segment to start `msn`, so a rendition made from the source keeps the source's sequence numbers
    /// (a segment ↔ the same media time in every rendition). Sequence numbers skipped on the way become
    /// `EXT-X-GAP` segments with the source's times (`slots`, the source's segments; those not found get a target
    /// duration). Does nothing while a segment is open or when `msn` is not ahead; false then.
    @discardableResult
    public mutating func numberNextSegment(_ msn: Int, slots: [Segment] = []) -> Bool {
        guard openSegment == nil, msn >= nextSequenceNumber else { return false }
        if !segments.isEmpty {
            for skipped in nextSequenceNumber..<msn {
                let slot = slots.first { $0.sequenceNumber == skipped }
                let start = slot?.startTime ?? (segments.last.map { $0.startTime + Int64(($0.duration ?? 0) * Double(StreamClock.timescale)) } ?? 0)
                var gap = Segment(
                    sequenceNumber: skipped, discontinuity: false, initVersion: initVersion,
                    programDateTime: clock.wallClock(atMediaTime: start), startTime: start,
                    duration: slot?.duration ?? Double(targetDuration), parts: []
                )
                gap.gap = true
                appendCompleted(gap)
            }
        }
        nextSequenceNumber = msn
        return true
    }

    /// The last complete part (`EXT-X-RENDITION-REPORT`'s LAST-MSN and LAST-PART, RFC 8216bis §4.4.5.4); nil before
    /// one exists.
    public var lastPartPosition: (msn: Int, part: Int)? {
        if let open = openSegment, open.parts.count > 1 { return (open.sequenceNumber, open.parts.count - 2) }
        guard let last = segments.last(where: { !$0.parts.isEmpty }) else { return nil }
        return (last.sequenceNumber, last.parts.count - 1)
    }

    /// The publisher went away: close what is open; whatever comes next follows an `EXT-X-DISCONTINUITY`.
    @discardableResult
    public mutating func interrupt() -> [PackagerEvent] {
        guard var segment = openSegment else { return [] }
        openSegment = nil
        var events: [PackagerEvent] = []
        // The last frame's duration is a guess; the part it closes must still fit PART-TARGET.
        let partTicks = Int64(configuration.advertisedPartTarget * Double(StreamClock.timescale))
        let lastFrame = lastFrameTime ?? openPartStart
        let end = max(lastFrame + 1, min(lastFrame + (muxer?.estimatedFrameDuration ?? 3000), openPartStart + partTicks))
        flushPendingAudio(into: &segment, events: &events)
        if openPartHasData {
            closePart(at: end, in: &segment)
            events.append(.partCompleted(msn: segment.sequenceNumber, part: segment.parts.count - 1))
        } else {
            segment.parts.removeLast()
        }
        if !segment.parts.isEmpty {
            segment.duration = Double(end - segment.startTime) / Double(StreamClock.timescale)
            appendCompleted(segment)
            events.append(.segmentCompleted(msn: segment.sequenceNumber))
        }
        pendingDiscontinuity = true
        return events
    }

    /// The broadcast is over: the playlist gets `EXT-X-ENDLIST`.
    @discardableResult
    public mutating func end() -> [PackagerEvent] {
        let events = interrupt()
        ended = true
        return events
    }

    /// Packages one frame (timestamps already on the broadcast's timeline).
    public mutating func append(_ frame: MediaFrame) -> [PackagerEvent] {
        guard !ended, let muxer else { return [] }
        let audioOnly = muxer.video == nil
        if frame.track == .audio, !audioOnly {
            guard muxer.audio != nil, var segment = openSegment else { return [] }
            pendingAudio.append(frame)
            guard pendingAudio.count >= Self.maximumPendingAudio else { return [] }
            openSegment = nil
            var events: [PackagerEvent] = []
            flushPendingAudio(into: &segment, events: &events)
            openSegment = segment
            return events
        }
        if frame.track == .video, audioOnly { return [] }

        var events: [PackagerEvent] = []
        let isKeyframe = frame.isKeyframe || audioOnly
        let t = frame.dts
        let frameDuration = audioOnly
            ? CMAFMuxer.aacFrameSamples * StreamClock.timescale / Int64(max(1, muxer.audio?.samplingFrequency ?? 48_000))
            : muxer.estimatedFrameDuration

        if var segment = openSegment {
            let segmentTicks = Int64(configuration.segmentTarget * Double(StreamClock.timescale))
            let partTicks = Int64(configuration.advertisedPartTarget * Double(StreamClock.timescale))
            let limitTicks = configuration.longestSegmentTicks
            let elapsed = t - segment.startTime
            let startedWithKeyframe = segment.parts.first?.independent ?? true
            let keyframeCut = isKeyframe && (elapsed >= segmentTicks - frameDuration / 2 || !startedWithKeyframe)
            // With this frame the segment would last longer than rounds to the target duration.
            let overlong = elapsed + frameDuration > limitTicks
            if keyframeCut || overlong {
                // The frame starts past the limit (it came after a gap): the segment ends with its last frame.
                let gap = elapsed > limitTicks
                let lastFrame = lastFrameTime ?? segment.startTime
                let end = gap ? min(max(lastFrame + 1, lastFrame + frameDuration), segment.startTime + limitTicks) : t
                openSegment = nil
                flushPendingAudio(into: &segment, events: &events)
                closePart(at: end, in: &segment)
                events.append(.partCompleted(msn: segment.sequenceNumber, part: segment.parts.count - 1))
                segment.duration = Double(end - segment.startTime) / Double(StreamClock.timescale)
                appendCompleted(segment)
                events.append(.segmentCompleted(msn: segment.sequenceNumber))
                if gap { pendingDiscontinuity = true }
                startSegment(at: t, independent: isKeyframe, presentation: frame.pts)
            } else if openPartHasData, t - openPartStart + frameDuration > partTicks {
                openSegment = nil
                flushPendingAudio(into: &segment, events: &events)
                closePart(at: t, in: &segment)
                events.append(.partCompleted(msn: segment.sequenceNumber, part: segment.parts.count - 1))
                openPart(at: t, independent: isKeyframe, in: &segment)
                openSegment = segment
            }
        } else {
            guard isKeyframe else { return [] }
            pendingAudio.removeAll()
            startSegment(at: t, independent: true, presentation: frame.pts)
        }

        guard var chunkMuxer = self.muxer else { return events }
        self.muxer = nil
        let bytes = audioOnly
            ? chunkMuxer.chunk(video: nil, audio: [frame], clock: clock, events: pendingEvents)
            : chunkMuxer.chunk(video: frame, audio: pendingAudio, clock: clock, events: pendingEvents)
        self.muxer = chunkMuxer
        pendingEvents.removeAll()
        pendingAudio.removeAll(keepingCapacity: true)
        appendToOpenPart(bytes)
        lastFrameTime = t
        if let segment = openSegment {
            events.append(.chunk(msn: segment.sequenceNumber, part: segment.parts.count - 1, bytes: bytes))
        }
        return events
    }

    /// Puts a cue on the timeline: an `EXT-X-DATERANGE` in every playlist while its start is not older than the
    /// oldest segment kept, and an `emsg` in front of the next chunk. False, and nothing changes, when the stream
    /// has ended or the cue is invalid (see ``MediaCue``) or has the ID of a cue still kept.
    public mutating func addCue(_ cue: MediaCue) -> Bool {
        guard !ended, let cue = cue.normalized(clock: clock), !dateRanges.contains(where: { $0.id == cue.id }) else {
            return false
        }
        let index = dateRanges.lastIndex { $0.mediaTime <= cue.mediaTime }.map { $0 + 1 } ?? 0
        dateRanges.insert(DateRange(id: cue.id, mediaTime: cue.mediaTime, tag: Self.dateRange(cue)), at: index)
        if dateRanges.count > Self.maximumCues { dateRanges.removeFirst() }
        pendingEvents.append(cue.eventMessage)
        if pendingEvents.count > Self.maximumCues { pendingEvents.removeFirst() }
        return true
    }

    // MARK: Reading

    /// The `EXT-X-TARGETDURATION`: the configuration's, for the whole broadcast (see the type's rules).
    public var targetDuration: Int { configuration.targetDuration }

    /// The chunks a new sub-second viewer needs to start decoding: from the last part that starts with a keyframe, in
    /// the open segment or the one before it, to the live edge. Only the open segment's parts when neither has one.
    public var partsSinceKeyframe: [ByteBuffer] {
        var candidates: [Segment] = []
        if let last = segments.last { candidates.append(last) }
        if let openSegment { candidates.append(openSegment) }
        for s in stride(from: candidates.count - 1, through: 0, by: -1) {
            if let p = candidates[s].parts.lastIndex(where: { $0.independent && $0.bytes.readableBytes > 0 }) {
                return Array(candidates[s].parts[p...].map(\.bytes)) + candidates[(s + 1)...].flatMap { $0.parts.map(\.bytes) }
            }
        }
        return openSegment?.parts.map(\.bytes) ?? []
    }

    /// The preload hint: the part being written now.
    public var openPartPosition: (msn: Int, part: Int)? {
        guard let segment = openSegment, !segment.parts.isEmpty else { return nil }
        return (segment.sequenceNumber, segment.parts.count - 1)
    }

    /// The sequence number the next segment to start will take (or the open one has).
    public var liveEdgeSequenceNumber: Int { openSegment?.sequenceNumber ?? nextSequenceNumber }

    /// Whether the playlist already holds segment `msn` (complete) or, with `part`, that part of it (RFC 8216bis
    /// §6.2.5.2). A part index past the end of a completed segment is satisfied by that segment.
    public func contains(msn: Int, part: Int?) -> Bool {
        if ended { return true }
        if let last = segments.last, last.sequenceNumber >= msn { return true }
        guard let part, let open = openSegment, open.sequenceNumber == msn else {
            return openSegment.map { $0.sequenceNumber > msn } ?? false
        }
        // The open segment's last part is still being written.
        return open.parts.count - 1 > part
    }

    public func part(msn: Int, index: Int) -> PartLookup {
        if let open = openSegment, open.sequenceNumber == msn {
            guard index < open.parts.count else { return .notFound }
            return index == open.parts.count - 1 ? .open(open.parts[index].bytes) : .complete(open.parts[index].bytes)
        }
        guard let segment = segments.first(where: { $0.sequenceNumber == msn }), index < segment.parts.count else {
            return .notFound
        }
        return .complete(segment.parts[index].bytes)
    }

    /// The parts of a complete segment, which together are the segment's bytes.
    public func segmentParts(msn: Int) -> [ByteBuffer]? {
        segments.first { $0.sequenceNumber == msn && !$0.gap }.map { $0.parts.map(\.bytes) }
    }

    // MARK: Internals

    private mutating func startSegment(at t: Int64, independent: Bool, presentation: Int64) {
        var segment = Segment(
            sequenceNumber: nextSequenceNumber, discontinuity: pendingDiscontinuity && !segments.isEmpty,
            initVersion: initVersion, programDateTime: clock.wallClock(atMediaTime: t), startTime: t,
            duration: nil, parts: []
        )
        segment.presentationStart = presentation
        nextSequenceNumber += 1
        pendingDiscontinuity = false
        openPart(at: t, independent: independent, in: &segment)
        openSegment = segment
    }

    private mutating func openPart(at t: Int64, independent: Bool, in segment: inout Segment) {
        segment.parts.append(Part(index: segment.parts.count, duration: 0, independent: independent, bytes: ByteBuffer()))
        openPartStart = t
        openPartHasData = false
    }

    private mutating func closePart(at t: Int64, in segment: inout Segment) {
        guard !segment.parts.isEmpty else { return }
        let partTicks = Int64(configuration.advertisedPartTarget * Double(StreamClock.timescale))
        segment.parts[segment.parts.count - 1].duration = Double(min(t - openPartStart, partTicks)) / Double(StreamClock.timescale)
    }

    private mutating func appendToOpenPart(_ bytes: ByteBuffer) {
        guard var segment = openSegment, !segment.parts.isEmpty else { return }
        // Clear the slot first so the part's storage is uniquely referenced and the append does not copy it.
        openSegment = nil
        segment.parts[segment.parts.count - 1].bytes.writeImmutableBuffer(bytes)
        openPartHasData = true
        openSegment = segment
    }

    /// Writes the held audio frames as a chunk of the open part. The segment must be taken out of `openSegment`
    /// while it is changed, so its buffers are uniquely referenced and appends do not copy them.
    private mutating func flushPendingAudio(into segment: inout Segment, events: inout [PackagerEvent]) {
        guard !pendingAudio.isEmpty, !segment.parts.isEmpty, var muxer else { return }
        self.muxer = nil
        let bytes = muxer.chunk(video: nil, audio: pendingAudio, clock: clock, events: pendingEvents)
        self.muxer = muxer
        pendingEvents.removeAll()
        pendingAudio.removeAll(keepingCapacity: true)
        segment.parts[segment.parts.count - 1].bytes.writeImmutableBuffer(bytes)
        openPartHasData = true
        events.append(.chunk(msn: segment.sequenceNumber, part: segment.parts.count - 1, bytes: bytes))
    }

    private mutating func appendCompleted(_ segment: Segment) {
        segments.append(segment)
        while segments.count > configuration.segmentCount {
            if segments.removeFirst().discontinuity { discontinuitySequence += 1 }
        }
        // A cue leaves the playlists with the segments it started before.
        if let windowStart = segments.first?.startTime {
            dateRanges.removeAll { $0.mediaTime < windowStart }
        }
        let used = Set(segments.map(\.initVersion) + [initVersion])
        initSegments = initSegments.filter { used.contains($0.key) }
    }
}
