import CutoverHTTPClient
import CutoverSockets
import CutoverWebhooks
import Foundation
import Yams

/// When a changed value takes effect. SIGHUP re-reads the file, but listeners, limits and the
/// spool are built once at start.
package enum Reload: String, Sendable {
    case sighup, restart
}

/// One config key as declared in a section's `fields` (nginx's `ngx_command_t`): everything the
/// unknown-key check, the environment overrides, `check-config`, the reload diff and the tests
/// that hold the example and the docs to the code need to know about it.
package struct KeyDeclaration: Sendable, Equatable {
    package enum Kind: Sendable, Equatable {
        case value, list, secret, secrets, freeMapping, section, namedList
    }

    /// Dotted path; items of a list of named mappings are `destinations[].url`.
    package var path: String
    package var kind: Kind
    /// What the value must be: `an integer, at least 1`, `one of: onprem, cloud, canonical, raw`.
    package var type: String
    /// The default as the example writes it; nil when the key has none (required, or absent means off).
    package var defaultText: String?
    package var required: Bool
    /// The `cutover serve` flag that sets it, if any.
    package var flag: String?
    package var reload: Reload
    package var doc: String
    /// `CUTOVER_...` from the path; `<NAME>` stands for a list item's name.
    package var variable: String
    /// Secrets are not: they change through the variable or file they reference, so a secret's
    /// variable can never be an override. Nor are names, sections and free mappings.
    package var overridable: Bool

    package var environmentName: String? { overridable ? variable : nil }
    package var isSecret: Bool { kind == .secret || kind == .secrets }

    /// Whether `name` is `variable` with some list item name in place of `<NAME>`.
    package func variableMatches(_ name: String) -> Bool {
        let parts = variable.components(separatedBy: "<NAME>")
        guard parts.count == 2 else { return variable == name }
        return name.hasPrefix(parts[0]) && name.hasSuffix(parts[1]) && name.count > parts[0].count + parts[1].count
    }
}

/// A value a key can hold. Environment variables and flags are text, so every value reads from text;
/// it is written back as text for the declarations' defaults, check-config and the reload diff.
package protocol ConfigValue: Sendable, Equatable {
    init?(configText: String)
    var configText: String { get }
    /// `an integer`, `HOST:PORT`: completes "expected ...".
    static var expectation: String { get }
    static var kind: KeyDeclaration.Kind { get }
    init?(configNode: Node)
}

extension ConfigValue {
    package static var kind: KeyDeclaration.Kind { .value }
    package init?(configNode: Node) {
        guard let text = configNode.scalar?.string else { return nil }
        self.init(configText: text)
    }
}

extension Int: ConfigValue {
    package init?(configText: String) { self.init(configText, radix: 10) }
    package var configText: String { String(self) }
    package static var expectation: String { "an integer" }
}

extension Double: ConfigValue {
    package init?(configText: String) {
        guard let value = Double(configText), value.isFinite else { return nil }
        self = value
    }
    package var configText: String {
        rounded() == self && abs(self) < 1e15 ? String(Int(self)) : String(self)
    }
    package static var expectation: String { "a number" }
}

extension String: ConfigValue {
    package init?(configText: String) { self = configText }
    package var configText: String { self }
    package static var expectation: String { "a string" }
}

extension HostAndPort: ConfigValue {
    package init?(configText: String) { self.init(parsing: configText) }
    package var configText: String { description }
    package static var expectation: String { "HOST:PORT" }
}

extension DestinationURL: ConfigValue {
    package init?(configText: String) { self.init(configText) }
    package var configText: String { description }
    package static var expectation: String { "an http:// or https:// URL" }
}

/// The plain listener: an address, or `off` when only the TLS listener serves.
package enum ListenAddress: ConfigValue {
    case off
    case address(HostAndPort)

    package var address: HostAndPort? {
        if case .address(let address) = self { address } else { nil }
    }

    package init?(configText: String) {
        if configText == "off" {
            self = .off
        } else if let address = HostAndPort(parsing: configText) {
            self = .address(address)
        } else {
            return nil
        }
    }

    package var configText: String { address?.description ?? "off" }
    package static var expectation: String { "HOST:PORT or off" }
}

/// Enumerations are spelled by their raw values.
package protocol ConfigEnumeration: ConfigValue, RawRepresentable<String>, CaseIterable {}

extension ConfigEnumeration {
    package init?(configText: String) { self.init(rawValue: configText) }
    package var configText: String { rawValue }
    package static var expectation: String { "one of: " + allCases.map(\.rawValue).joined(separator: ", ") }
}

extension DeliveryFormat: ConfigEnumeration {}
extension UnsupportedPolicy: ConfigEnumeration {}
extension PhonelessPolicy: ConfigEnumeration {}
extension EventLoopKind: ConfigEnumeration {}

/// Lists: a YAML sequence, or comma-separated text from the environment.
extension Array: ConfigValue where Element: ConfigValue {
    package init?(configText: String) {
        var items: [Element] = []
        for part in configText.split(separator: ",") {
            guard let item = Element(configText: part.trimmingCharacters(in: .whitespaces)) else { return nil }
            items.append(item)
        }
        self = items
    }

    package init?(configNode: Node) {
        guard let sequence = configNode.sequence else { return nil }
        var items: [Element] = []
        for node in sequence {
            guard let item = Element(configNode: node) else { return nil }
            items.append(item)
        }
        self = items
    }

    package var configText: String { "[" + map(\.configText).joined(separator: ", ") + "]" }
    package static var expectation: String { "a list, each \(Element.expectation)" }
    package static var kind: KeyDeclaration.Kind { .list }
}

/// A range or shape a value must have beyond its type.
package struct Constraint<Value>: Sendable {
    let text: String
    let holds: @Sendable (Value) -> Bool
}

extension Constraint where Value: Comparable & Sendable {
    package static func between(_ minimum: Value, _ maximum: Value) -> Self {
        Self(text: "between \(minimum) and \(maximum)") { (minimum...maximum).contains($0) }
    }
}

extension Constraint where Value == Int {
    package static func atLeast(_ minimum: Int) -> Self { Self(text: "at least \(minimum)") { $0 >= minimum } }
}

extension Constraint where Value == [Int] {
    package static let statuses = Self(text: "HTTP statuses between 100 and 599") { $0.allSatisfy((100...599).contains) }
}

extension Constraint where Value == Double {
    package static let positive = Self(text: "greater than 0") { $0 > 0 }
    package static let nonNegative = Self(text: "0 or more") { $0 >= 0 }
}

extension Constraint where Value == String {
    package static let nonEmpty = Self(text: "not empty") { !$0.isEmpty }
    /// Names end up in URLs (`/onprem/<name>`) and environment variable names.
    package static let name = Self(text: "letters, digits, - or _") { name in
        !name.isEmpty && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
    }
}

/// A value with a text and a mapping form (`valueOrSection`): what the text form keeps of the
/// file's mapping when a flag or override gives the text.
package protocol RefinedBySection {
    func refined(by section: Self) -> Self
}

/// A mapping of keys: the top level, `limits`, a destination.
package protocol ConfigSection: Sendable {
    static var fields: [Field<Self>] { get }
    /// Every key's default. Required keys hold placeholders here that reading always replaces.
    static var defaults: Self { get }
}

/// An item of a list of named mappings; its name addresses its environment overrides.
package protocol NamedConfigSection: ConfigSection {
    var name: String { get }
}

/// Where a key is being read: its concrete path (`destinations[0].url`), its override variable,
/// and where its enclosing mapping is (a missing key is reported there).
struct Scope {
    var path: String
    var environmentName: String?
    var location: String

    func child(_ name: String) -> Scope {
        Scope(
            path: path.isEmpty ? name : path + "." + name,
            environmentName: environmentName.map { $0 + "_" + ConfigFile.environmentName(name) },
            location: location
        )
    }
}

/// The declared form of a scope: paths with `[]`, variables with `<NAME>`, the inherited reload.
struct DeclarationScope {
    var path: String
    var environmentName: String
    var reload: Reload

    func child(_ name: String, reload: Reload?) -> DeclarationScope {
        DeclarationScope(
            path: path.isEmpty ? name : path + "." + name,
            environmentName: environmentName + "_" + ConfigFile.environmentName(name),
            reload: reload ?? self.reload
        )
    }
}

/// One concrete value, flattened for the reload diff and check-config.
package struct ConfigEntry: Sendable, Equatable {
    package var path: String
    package var text: String
    package var reload: Reload
}

/// How one key of `Root` is declared, read and written back.
package struct Field<Root>: Sendable {
    let name: String
    let declare: @Sendable (DeclarationScope) -> [KeyDeclaration]
    let read: @Sendable (inout Root, Node?, Scope, ConfigReader) throws -> Void
    let entries: @Sendable (Root, String, Reload) -> [ConfigEntry]
}

extension Field where Root: ConfigSection {
    private static func leaf(
        _ name: String, kind: KeyDeclaration.Kind, type: String, defaultText: String?, required: Bool, flag: String?,
        reload: Reload?, overridable: Bool, doc: String
    ) -> @Sendable (DeclarationScope) -> [KeyDeclaration] {
        { parent in
            let scope = parent.child(name, reload: reload)
            return [
                KeyDeclaration(
                    path: scope.path, kind: kind, type: type, defaultText: defaultText, required: required, flag: flag,
                    reload: scope.reload, doc: doc, variable: scope.environmentName, overridable: overridable
                )
            ]
        }
    }

    private static func entry(_ path: String, _ name: String, _ text: String?, _ reload: Reload?, _ inherited: Reload) -> [ConfigEntry] {
        text.map { [ConfigEntry(path: path.isEmpty ? name : path + "." + name, text: $0, reload: reload ?? inherited)] } ?? []
    }

    private static func typeText<Value: ConfigValue>(_ type: Value.Type, _ constraint: Constraint<Value>?) -> String {
        Value.expectation + (constraint.map { ", \($0.text)" } ?? "")
    }

    /// A key with a default: the property's initial value in `Root.defaults`.
    package static func value<Value: ConfigValue>(
        _ name: String, _ keyPath: any WritableKeyPath<Root, Value> & Sendable, _ constraint: Constraint<Value>? = nil,
        flag: String? = nil, reload: Reload? = nil, overridable: Bool = true, doc: String
    ) -> Self {
        nonOptional(name, keyPath, constraint, flag: flag, reload: reload, overridable: overridable, required: false, doc: doc)
    }

    /// A key that must be given.
    package static func required<Value: ConfigValue>(
        _ name: String, _ keyPath: any WritableKeyPath<Root, Value> & Sendable, _ constraint: Constraint<Value>? = nil,
        flag: String? = nil, reload: Reload? = nil, overridable: Bool = true, doc: String
    ) -> Self {
        nonOptional(name, keyPath, constraint, flag: flag, reload: reload, overridable: overridable, required: true, doc: doc)
    }

    private static func nonOptional<Value: ConfigValue>(
        _ name: String, _ keyPath: any WritableKeyPath<Root, Value> & Sendable, _ constraint: Constraint<Value>?,
        flag: String?, reload: Reload?, overridable: Bool, required: Bool, doc: String
    ) -> Self {
        Self(
            name: name,
            declare: leaf(
                name, kind: Value.kind, type: typeText(Value.self, constraint),
                defaultText: required ? nil : Root.defaults[keyPath: keyPath].configText, required: required, flag: flag,
                reload: reload, overridable: overridable, doc: doc
            ),
            read: { root, node, scope, reader in
                if let value = try reader.value(Value.self, node, scope, flag: flag, overridable: overridable, constraint) {
                    root[keyPath: keyPath] = value
                } else if required {
                    throw reader.error(at: scope.location, scope.path, "missing required key")
                }
            },
            entries: { root, path, inherited in entry(path, name, root[keyPath: keyPath].configText, reload, inherited) }
        )
    }

    /// A key whose absence means "none" or a default that is not a literal (`defaultText` describes it).
    package static func optional<Value: ConfigValue>(
        _ name: String, _ keyPath: any WritableKeyPath<Root, Value?> & Sendable, _ constraint: Constraint<Value>? = nil,
        defaultText: String? = nil, flag: String? = nil, reload: Reload? = nil, doc: String
    ) -> Self {
        Self(
            name: name,
            declare: leaf(
                name, kind: Value.kind, type: typeText(Value.self, constraint), defaultText: defaultText, required: false,
                flag: flag, reload: reload, overridable: true, doc: doc
            ),
            read: { root, node, scope, reader in
                if let value = try reader.value(Value.self, node, scope, flag: flag, overridable: true, constraint) {
                    root[keyPath: keyPath] = value
                }
            },
            entries: { root, path, inherited in entry(path, name, root[keyPath: keyPath]?.configText, reload, inherited) }
        )
    }

    /// A secret: a string, `{env: NAME}` or `{file: PATH}`; never overridden from the environment.
    package static func secret(
        _ name: String, _ keyPath: any WritableKeyPath<Root, Secret?> & Sendable, flag: String? = nil, reload: Reload? = nil,
        doc: String
    ) -> Self {
        Self(
            name: name,
            declare: leaf(
                name, kind: .secret, type: Secret.expectation, defaultText: nil, required: false, flag: flag, reload: reload,
                overridable: false, doc: doc
            ),
            read: { root, node, scope, reader in
                if let secret = try reader.secret(node, scope, flag: flag) { root[keyPath: keyPath] = secret }
            },
            entries: { root, path, inherited in entry(path, name, root[keyPath: keyPath]?.description, reload, inherited) }
        )
    }

    package static func requiredSecret(_ name: String, _ keyPath: any WritableKeyPath<Root, Secret> & Sendable, reload: Reload? = nil, doc: String) -> Self {
        Self(
            name: name,
            declare: leaf(
                name, kind: .secret, type: Secret.expectation, defaultText: nil, required: true, flag: nil, reload: reload,
                overridable: false, doc: doc
            ),
            read: { root, node, scope, reader in
                guard let secret = try reader.secret(node, scope, flag: nil) else {
                    throw reader.error(at: scope.location, scope.path, "missing required key")
                }
                root[keyPath: keyPath] = secret
            },
            entries: { root, path, inherited in entry(path, name, root[keyPath: keyPath].description, reload, inherited) }
        )
    }

    /// A list of secrets (rotation: any of them is accepted).
    package static func secrets(
        _ name: String, _ keyPath: any WritableKeyPath<Root, [Secret]> & Sendable, flag: String? = nil, reload: Reload? = nil,
        doc: String
    ) -> Self {
        Self(
            name: name,
            declare: leaf(
                name, kind: .secrets, type: "a list, each " + Secret.expectation, defaultText: "[]", required: false,
                flag: flag, reload: reload, overridable: false, doc: doc
            ),
            read: { root, node, scope, reader in
                if let secrets = try reader.secrets(node, scope, flag: flag) { root[keyPath: keyPath] = secrets }
            },
            entries: { root, path, inherited in
                entry(path, name, "[" + root[keyPath: keyPath].map(\.description).joined(separator: ", ") + "]", reload, inherited)
            }
        )
    }

    /// Names chosen by the user (`headers`): any key, string values, no overrides.
    package static func freeMapping(
        _ name: String, _ keyPath: any WritableKeyPath<Root, [String: String]> & Sendable, reload: Reload? = nil, doc: String
    ) -> Self {
        Self(
            name: name,
            declare: leaf(
                name, kind: .freeMapping, type: "a mapping of strings", defaultText: "{}", required: false, flag: nil,
                reload: reload, overridable: false, doc: doc
            ),
            read: { root, node, scope, reader in
                if let mapping = try reader.freeMapping(node, scope) { root[keyPath: keyPath] = mapping }
            },
            entries: { root, path, inherited in
                let text = root[keyPath: keyPath].sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ")
                return entry(path, name, "{" + text + "}", reload, inherited)
            }
        )
    }

    private static func declareSection<Section: ConfigSection>(
        _ name: String, _ section: Section.Type, kind: KeyDeclaration.Kind, type: String, required: Bool, reload: Reload?, doc: String
    ) -> @Sendable (DeclarationScope) -> [KeyDeclaration] {
        { parent in
            let scope = parent.child(name, reload: reload)
            let own = KeyDeclaration(
                path: scope.path, kind: kind, type: type, defaultText: nil, required: required, flag: nil, reload: scope.reload,
                doc: doc, variable: scope.environmentName, overridable: false
            )
            var inner = scope
            if kind == .namedList {
                inner.path += "[]"
                inner.environmentName += "_<NAME>"
            }
            return [own] + Section.declarations(in: inner)
        }
    }

    /// A mapping that is always there, with defaults for what it leaves out.
    package static func section<Section: ConfigSection>(
        _ name: String, _ keyPath: any WritableKeyPath<Root, Section> & Sendable, reload: Reload? = nil, doc: String
    ) -> Self {
        Self(
            name: name,
            declare: declareSection(name, Section.self, kind: .section, type: "a mapping", required: false, reload: reload, doc: doc),
            read: { root, node, scope, reader in root[keyPath: keyPath] = try Section.read(node, scope, reader) },
            entries: { root, path, inherited in
                root[keyPath: keyPath].entries(path.isEmpty ? name : path + "." + name, reload ?? inherited)
            }
        )
    }

    /// A mapping whose absence turns a feature off (`tls`, `admin`). An override of one of its keys
    /// turns it on, as the file would.
    package static func optionalSection<Section: ConfigSection>(
        _ name: String, _ keyPath: any WritableKeyPath<Root, Section?> & Sendable, reload: Reload? = nil, doc: String
    ) -> Self {
        Self(
            name: name,
            declare: declareSection(name, Section.self, kind: .section, type: "a mapping", required: false, reload: reload, doc: doc),
            read: { root, node, scope, reader in
                let given = node.map { $0.null == nil } ?? false
                let overridden = Section.declarations(in: DeclarationScope(path: scope.path, environmentName: scope.environmentName ?? "", reload: .sighup))
                    .contains { key in
                        key.environmentName.map { reader.environment[$0] != nil } == true || key.flag.map { reader.flags[$0] != nil } == true
                    }
                guard given || overridden else { return }
                root[keyPath: keyPath] = try Section.read(node, scope, reader)
            },
            entries: { root, path, inherited in
                root[keyPath: keyPath]?.entries(path.isEmpty ? name : path + "." + name, reload ?? inherited) ?? []
            }
        )
    }

    /// A key given as text or as a mapping of its own keys (`spool: ./dir` or `spool: {postgres: {...}}`).
    /// The text form comes from the flag, the key's override or a scalar in the file, in that order;
    /// otherwise a mapping in the file, or an override of one of the mapping's keys, is read as the
    /// section. Declared as the value (with its flag and override) followed by the section's keys.
    package static func valueOrSection<Value: ConfigValue & ConfigSection & RefinedBySection>(
        _ name: String, _ keyPath: any WritableKeyPath<Root, Value> & Sendable, flag: String? = nil, reload: Reload? = nil,
        doc: String
    ) -> Self {
        let value = Self.value(name, keyPath, flag: flag, reload: reload, doc: doc)
        return Self(
            name: name,
            declare: { parent in value.declare(parent) + Value.declarations(in: parent.child(name, reload: reload)) },
            read: { root, node, scope, reader in
                let textGiven =
                    flag.map { reader.flags[$0] != nil } == true
                    || scope.environmentName.map { reader.environment[$0] != nil } == true || node?.scalar != nil
                if !textGiven, let node, node.mapping != nil {
                    root[keyPath: keyPath] = try Value.read(node, scope, reader)
                    return
                }
                try value.read(&root, node, scope, reader)
                if textGiven, let node, node.mapping != nil {
                    // A flag or override over the file's mapping: the mapping may still say more about it.
                    root[keyPath: keyPath] = root[keyPath: keyPath].refined(by: try Value.read(node, scope, reader))
                } else if !textGiven {
                    // An override of one of the mapping's keys turns the mapping form on, as the file would.
                    let section = try Value.read(nil, scope, reader)
                    if section != Value.defaults { root[keyPath: keyPath] = section }
                }
            },
            entries: { root, path, inherited in
                let section = root[keyPath: keyPath].entries(path.isEmpty ? name : path + "." + name, reload ?? inherited)
                return section.isEmpty ? value.entries(root, path, inherited) : section
            }
        )
    }

    /// A list of mappings, each with a `name` that addresses its overrides:
    /// `CUTOVER_DESTINATIONS_LEGACY_ENDPOINT_URL` is the url of destination `legacy-endpoint`.
    package static func namedList<Item: NamedConfigSection>(
        _ name: String, _ keyPath: any WritableKeyPath<Root, [Item]> & Sendable, reload: Reload? = nil, doc: String
    ) -> Self {
        Self(
            name: name,
            declare: declareSection(name, Item.self, kind: .namedList, type: "a list of mappings", required: false, reload: reload, doc: doc),
            read: { root, node, scope, reader in
                guard let node, node.null == nil else { return }
                guard let sequence = node.sequence else {
                    throw reader.error(at: reader.location(of: node), scope.path, "expected a list of mappings")
                }
                var items: [Item] = []
                for (index, itemNode) in sequence.enumerated() {
                    var itemScope = Scope(path: "\(scope.path)[\(index)]", environmentName: nil, location: reader.location(of: itemNode))
                    if let itemName = itemNode["name"]?.string {
                        itemScope.environmentName = scope.environmentName.map { $0 + "_" + ConfigFile.environmentName(itemName) }
                    }
                    items.append(try Item.read(itemNode, itemScope, reader))
                }
                root[keyPath: keyPath] = items
            },
            entries: { root, path, inherited in
                let base = path.isEmpty ? name : path + "." + name
                return root[keyPath: keyPath].enumerated().flatMap { index, item in item.entries("\(base)[\(index)]", reload ?? inherited) }
            }
        )
    }
}

extension ConfigSection {
    static func declarations(in scope: DeclarationScope) -> [KeyDeclaration] {
        fields.flatMap { $0.declare(scope) }
    }

    static func read(_ node: Node?, _ scope: Scope, _ reader: ConfigReader) throws -> Self {
        var section = defaults
        var inner = scope
        var mapping: Node.Mapping?
        if let node, node.null == nil {
            guard let given = node.mapping else {
                throw reader.error(at: reader.location(of: node), scope.path.isEmpty ? "document" : scope.path, "expected a mapping")
            }
            mapping = given
            inner.location = reader.location(of: node)
            let names = fields.map(\.name)
            for (key, _) in given {
                guard let name = key.string, names.contains(name) else {
                    let keyPath = scope.path.isEmpty ? key.string ?? "?" : scope.path + "." + (key.string ?? "?")
                    throw ConfigError("\(reader.location(of: key)): unknown key \(keyPath) (expected one of: \(names.sorted().joined(separator: ", ")))")
                }
            }
        }
        for field in fields {
            try field.read(&section, mapping?[field.name], inner.child(field.name), reader)
        }
        return section
    }

    func entries(_ path: String, _ reload: Reload) -> [ConfigEntry] {
        Self.fields.flatMap { $0.entries(self, path, reload) }
    }
}
