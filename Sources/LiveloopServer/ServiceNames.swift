/// What ServiceLifecycle writes about each service in its debug lines ("Starting service …"): the name alone.
/// Without these it would print every stored property, the whole configuration with it — the SRT passphrase included.
extension IngestService: CustomStringConvertible {
    var description: String { "IngestService" }
}

extension SRTIngestService: CustomStringConvertible {
    var description: String { "SRTIngestService" }
}

extension DrainService: CustomStringConvertible {
    var description: String { "DrainService" }
}
