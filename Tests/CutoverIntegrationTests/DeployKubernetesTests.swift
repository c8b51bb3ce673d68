import CutoverTestSupport
import Foundation
import Testing

/// deploy/kubernetes/ through kubernetes-validate (its bundled schemas, offline, strict), and what a
/// schema cannot see: probes on the right paths, a grace longer than the drain, references that
/// resolve between the manifests.
struct DeployKubernetesTests {
    /// A version kubernetes-validate 1.37.0 ships schemas for.
    static let kubernetesVersion = "1.37.0"

    static func manifests() throws -> [String] {
        let directory = Deploy.path("kubernetes")
        return try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".yaml") }.sorted()
            .map { directory + "/" + $0 }
    }

    static func validate(_ files: [String]) throws -> CommandResult {
        try runCommand(try Deploy.tool("kubernetes-validate"), ["--strict", "--kubernetes-version", kubernetesVersion] + files)
    }

    /// Every resource of the directory by kind (one of each).
    static func resources() throws -> [String: [String: Any]] {
        var byKind: [String: [String: Any]] = [:]
        for file in try manifests() {
            for document in try Deploy.documents(file) {
                let kind = try #require(document["kind"] as? String)
                #expect(byKind[kind] == nil, "two \(kind)s")
                byKind[kind] = document
            }
        }
        return byKind
    }

    @Test func everyManifestValidatesStrictly() throws {
        let files = try Self.manifests()
        let result = try Self.validate(files)
        #expect(result.status == 0, "\(result.output)\(result.error)")
        let passed = (result.output + result.error).split(separator: "\n").filter { $0.contains("passed for resource") }
        #expect(passed.count == files.count, "\(result.output)\(result.error)")
    }

    /// The check above could fail: strict validation rejects a field the API does not have.
    @Test func strictValidationRejectsAnUnknownField() throws {
        let directory = try TemporaryDirectory(prefix: "cutover-kubernetes")
        let file = directory.path("deployment.yaml")
        let text = try String(contentsOfFile: Deploy.path("kubernetes/deployment.yaml"), encoding: .utf8)
        try text.replacingOccurrences(of: "terminationGracePeriodSeconds:", with: "terminationGraceSeconds:").write(toFile: file, atomically: true, encoding: .utf8)
        let result = try Self.validate([file])
        #expect(result.status != 0)
        #expect((result.output + result.error).contains("terminationGraceSeconds"), "\(result.output)\(result.error)")
    }

    @Test func theSixResourcesAreThere() throws {
        #expect(Set(try Self.resources().keys) == ["Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "NetworkPolicy"])
    }

    @Test func probesGraceAndSecurityContextFollowCutover() throws {
        let resources = try Self.resources()
        let pod = try #require(((resources["Deployment"]?["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        func probePath(_ name: String) -> String? { ((container[name] as? [String: Any])?["httpGet"] as? [String: Any])?["path"] as? String }
        #expect(probePath("readinessProbe") == "/readyz")
        #expect(probePath("livenessProbe") == "/healthz")

        let configMap = try #require(resources["ConfigMap"]?["data"] as? [String: String])
        let configText = try #require(configMap["cutover.yml"])
        let config = try #require(try Deploy.documents(text: configText).first)
        let preStop = (((container["lifecycle"] as? [String: Any])?["preStop"] as? [String: Any])?["sleep"] as? [String: Any])?["seconds"] as? Int ?? 0
        let grace = try #require(pod["terminationGracePeriodSeconds"] as? Int)
        let drain = Deploy.drainSeconds(config: config)
        #expect(grace > preStop + drain, "terminationGracePeriodSeconds \(grace), preStop \(preStop) s + drain up to \(drain) s")

        let port = try #require((config["listen"] as? String)?.split(separator: ":").last.flatMap { Int($0) })
        let ports = container["ports"] as? [[String: Any]] ?? []
        #expect(ports.contains { $0["containerPort"] as? Int == port && $0["name"] as? String == "http" }, "\(ports)")

        let security = try #require(container["securityContext"] as? [String: Any])
        #expect(security["readOnlyRootFilesystem"] as? Bool == true)
        #expect(security["allowPrivilegeEscalation"] as? Bool == false)
        let podSecurity = try #require(pod["securityContext"] as? [String: Any])
        #expect(podSecurity["runAsNonRoot"] as? Bool == true)
        #expect((podSecurity["runAsUser"] as? Int ?? 0) != 0)
        let resourcesOfContainer = try #require(container["resources"] as? [String: Any])
        #expect(resourcesOfContainer["requests"] != nil && resourcesOfContainer["limits"] != nil)

        // The image's spool directory is writable although the root file system is not.
        let mounts = (container["volumeMounts"] as? [[String: Any]] ?? []).compactMap { $0["mountPath"] as? String }
        #expect(mounts.contains("/var/lib/cutover") && mounts.contains("/etc/cutover"), "\(mounts)")
    }

    @Test func theManifestsReferToEachOther() throws {
        let resources = try Self.resources()
        let template = try #require((resources["Deployment"]?["spec"] as? [String: Any])?["template"] as? [String: Any])
        let podLabels = try #require((template["metadata"] as? [String: Any])?["labels"] as? [String: String])
        func selects(_ selector: [String: String]?) -> Bool {
            guard let selector, !selector.isEmpty else { return false }
            return selector.allSatisfy { podLabels[$0.key] == $0.value }
        }
        #expect(selects((resources["Service"]?["spec"] as? [String: Any])?["selector"] as? [String: String]))
        #expect(selects(((resources["PodDisruptionBudget"]?["spec"] as? [String: Any])?["selector"] as? [String: Any])?["matchLabels"] as? [String: String]))
        #expect(selects(((resources["NetworkPolicy"]?["spec"] as? [String: Any])?["podSelector"] as? [String: Any])?["matchLabels"] as? [String: String]))

        let pod = try #require(template["spec"] as? [String: Any])
        let container = try #require((pod["containers"] as? [[String: Any]])?.first)
        let secret = try #require(resources["Secret"])
        let secretName = (secret["metadata"] as? [String: Any])?["name"] as? String
        let secretValues = try #require(secret["stringData"] as? [String: String])
        let references = (container["env"] as? [[String: Any]] ?? []).compactMap {
            ($0["valueFrom"] as? [String: Any])?["secretKeyRef"] as? [String: String]
        }
        for reference in references {
            #expect(reference["name"] == secretName && secretValues[reference["key"] ?? ""] != nil, "\(reference)")
        }
        // Placeholders, clearly marked: nobody applies them by mistake and thinks them secret.
        for (key, value) in secretValues { #expect(value.hasPrefix("REPLACE-ME"), "\(key)") }

        // Every secret the ConfigMap's config names is set from the Secret.
        let configText = try #require((resources["ConfigMap"]?["data"] as? [String: String])?["cutover.yml"])
        let passed = Set((container["env"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
        #expect(Set(Deploy.placeholderSecrets(for: configText).keys).isSubset(of: passed), "env \(passed.sorted())")
        let configVolume = (pod["volumes"] as? [[String: Any]] ?? []).first { $0["configMap"] != nil }
        let configMapName = (resources["ConfigMap"]?["metadata"] as? [String: Any])?["name"] as? String
        #expect((configVolume?["configMap"] as? [String: Any])?["name"] as? String == configMapName)
    }
}
