#if canImport(Glibc)
import Glibc
#endif

/// The sanitizer this test process runs under, if any (`make test-asan`, `make test-tsan`): the
/// cutover binary the tests start comes from the same build, so it runs under the same one. Its
/// memory figures then include the sanitizer's shadow memory and (ASan) the quarantine of freed
/// blocks, so a test measuring Cutover's own memory has nothing to compare there.
package enum Sanitizer: Sendable {
    case address, thread

    /// Found by the sanitizer runtime's entry point, which a sanitized executable exports.
    package static let current: Sanitizer? = {
        guard let program = dlopen(nil, RTLD_NOW) else { return nil }
        defer { dlclose(program) }
        if dlsym(program, "__asan_init") != nil { return .address }
        if dlsym(program, "__tsan_init") != nil { return .thread }
        return nil
    }()
}
