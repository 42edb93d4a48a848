// A module of one small command named like a shipped one, so that the
// release tests run real go builds without compiling the project's
// dependencies for every platform.
module example.test/release

go 1.26
