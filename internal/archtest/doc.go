// Package archtest holds no code: its test holds docs/architecture.md's
// table of packages against what each package imports.
package archtest
