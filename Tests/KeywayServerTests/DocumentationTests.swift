import Foundation
import KeywayServer
import Testing
import Yams

/// The README lists every endpoint of the contract, so the two cannot drift apart unnoticed.
@Suite("Documentation", .sharingTheMachine)
struct DocumentationTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func theReadmeListsEveryOperationOfTheContract() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let yaml = try String(
            contentsOf: Self.root.appendingPathComponent("Sources/KeywayAPI/openapi.yaml"), encoding: .utf8)
        let document = try #require(try Yams.load(yaml: yaml) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var operations = 0
        for (path, item) in paths {
            for method in item.keys where method != "parameters" {
                operations += 1
                #expect(
                    readme.contains("`\(method.uppercased()) \(path)`"), "README misses \(method.uppercased()) \(path)")
            }
        }
        #expect(operations >= 47)
    }
}
