import Testing

/// The attack table (issue #10): one case per way an outsider could hold, swell or confuse the server, each asserting
/// the refusal and that a publisher and a viewer on another channel (`Bystanders`) noticed nothing. The cases live in
/// `AttackTests+*.swift` beside this file, grouped by entry point.
@Suite("attacks", .serialized)
struct AttackTests {}
