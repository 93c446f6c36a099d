package profiles

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// versionHeader starts the hashed encoding of HashAlgo 1.
const versionHeader = "bootstrap-profile/v1\n"

// version computes a profile's content version, once the
// versions of the profiles it requires are known:
//
//	SHA-256 of
//	  "bootstrap-profile/v1\n"
//	  "manifest" <the manifest: profile.yaml, or the synthetic one of a srvthreds profile>
//	  "omit" <the keys of Options.OmitKeys that the profile had, sorted, one a line>, only if any
//	  for every file the steps read, by path:
//	    "path" <path relative to the profile directory> "data" <bytes>
//	  for every required profile, by name:
//	    "requires" <name@version>
//
// where each field is written as "<tag> <length>\n<bytes>\n", so that no
// two different contents encode alike. Secrets (password files,
// environment values) are not part of it.
func (l *loader) version(src *source) string {
	h := sha256.New()
	h.Write([]byte(versionHeader))
	writeField(h, "manifest", src.manifest)
	if len(src.omitted) > 0 { // only then, so that other versions stay as they were
		writeField(h, "omit", []byte(strings.Join(slices.Sorted(slices.Values(src.omitted)), "\n")))
	}
	for _, p := range slices.Sorted(maps.Keys(src.files)) {
		writeField(h, "path", []byte(p))
		writeField(h, "data", src.files[p])
	}
	reqs := slices.Sorted(slices.Values(src.p.Requires))
	for _, r := range reqs {
		writeField(h, "requires", []byte(r+"@"+l.srcs[r].p.Version))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// writeField writes "<tag> <len>\n<data>\n".
func writeField(h hash.Hash, tag string, data []byte) {
	h.Write([]byte(tag + " " + strconv.Itoa(len(data)) + "\n"))
	h.Write(data)
	h.Write([]byte{'\n'})
}
