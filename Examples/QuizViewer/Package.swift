// swift-tools-version:6.2
// A separate package: `swift build` at the repository root does not build it. It depends on the repository by path.
import PackageDescription

let package = Package(
    name: "QuizViewer",
    platforms: [.macOS(.v15), .iOS(.v18)],
    dependencies: [
        .package(name: "liveloop", path: "../.."),
    ],
    targets: [
        .executableTarget(
            name: "QuizViewer",
            dependencies: [.product(name: "LiveloopClient", package: "liveloop")],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny"), .enableUpcomingFeature("MemberImportVisibility")]
        ),
    ]
)
