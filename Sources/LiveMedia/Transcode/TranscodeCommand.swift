/// The `ffmpeg` command line that makes a channel's renditions: FLV on standard input (the broadcast, from
/// ``FLVStreamWriter``), one MPEG-TS per rendition to the paths given (named pipes the server reads).
///
/// What keeps the renditions aligned with the source, so segments and parts line up (docs/video.md):
/// - `-copyts` and `-enc_time_base -1`: every output frame keeps its input timestamp, to the millisecond;
/// - `-fps_mode passthrough`: no frame is duplicated or dropped;
/// - `-force_key_frames source` with `keyint=infinite:scenecut=0`: a keyframe exactly where the source has one, and
///   nowhere else (the source's GOP is the ladder's);
/// - `-tune zerolatency`: no B-frames and no lookahead, one frame of encoder delay.
/// Audio is copied from the source into every rendition. A rendition is never taller than the source (a 720p rung of
/// a 480p source comes out at 480p).
public struct TranscodeCommand: Sendable, Equatable {
    public var presets: [RenditionPreset]
    public var outputs: [String]
    /// x264's speed preset: `veryfast` by default, the usual live trade of CPU for quality.
    public var x264Preset: String

    public init(presets: [RenditionPreset], outputs: [String], x264Preset: String = "veryfast") {
        precondition(presets.count == outputs.count, "one output per preset")
        self.presets = presets
        self.outputs = outputs
        self.x264Preset = x264Preset
    }

    public var arguments: [String] {
        var arguments = [
            "-hide_banner", "-nostdin", "-loglevel", "error",
            // Start at once: the FLV header names the tracks and the sequence headers come first. (Not `nobuffer`:
            // it drops what probing read, the first GOP.)
            "-probesize", "32768", "-analyzeduration", "0",
            "-copyts", "-f", "flv", "-i", "pipe:0",
        ]
        let split = presets.indices.map { "[s\($0)]" }.joined()
        var graph = presets.count > 1 ? "[0:v]split=\(presets.count)\(split);" : ""
        for (index, preset) in presets.enumerated() {
            let input = presets.count > 1 ? "[s\(index)]" : "[0:v]"
            graph += "\(input)scale=-2:'min(\(preset.height),ih)'[v\(index)]"
            if index < presets.count - 1 { graph += ";" }
        }
        arguments += ["-filter_complex", graph]
        for (index, preset) in presets.enumerated() {
            let rate = preset.videoBitrate
            arguments += [
                "-map", "[v\(index)]", "-map", "0:a?",
                "-c:v", "libx264", "-preset", x264Preset, "-tune", "zerolatency", "-pix_fmt", "yuv420p",
                "-b:v", "\(rate)", "-maxrate", "\(rate)", "-bufsize", "\(rate * 2)",
                "-force_key_frames", "source", "-x264-params", "keyint=infinite:scenecut=0",
                "-fps_mode", "passthrough", "-enc_time_base:v", "-1",
                "-c:a", "copy",
                "-f", "mpegts", "-muxdelay", "0", "-muxpreload", "0", "-flush_packets", "1",
                "-y", outputs[index],
            ]
        }
        return arguments
    }
}
