package profiles

import (
	"encoding/json"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// HashAlgo is the version of the content-hash algorithm. It is
// stored with every marker so that a future change of the algorithm can be
// told apart from a change of content.
const HashAlgo = 1

// Form tells how a profile directory was written.
type Form string

const (
	// FormManifest is a directory with a profile.yaml.
	FormManifest Form = "manifest"
	// FormSrvthreds is a legacy run-profiles/<name>/ directory: run-config/
	// and/or patterns/ and no profile.yaml; it means steps [configs, patterns]
	// on database "nr".
	FormSrvthreds Form = "srvthreds"
)

// DefaultDatabase is the database of srvthreds-form profiles and of manifest
// profiles that name none.
const DefaultDatabase = "nr"

// Step kinds.
const (
	KindConfigs   = "configs"
	KindPatterns  = "patterns"
	KindUsers     = "users"
	KindDocuments = "documents"
	KindRedis     = "redis"
	KindHTTP      = "http"
	KindExec      = "exec"
	KindUpsert    = "upsert"
	KindReplace   = "replace"
)

// Profile is one loaded and validated profile. Everything its steps read
// from the profile directory is already parsed into it, so applying a
// profile does no file I/O except for secrets (password files, HTTP header
// secrets), read once before the run connects (its preflight) and never
// hashed.
type Profile struct {
	Name     string   // directory name
	Form     Form     // manifest or srvthreds
	Database string   // default MongoDB database of its steps
	Requires []string // names of the profiles that must be applied first
	Steps    []Step
	Reset    *Reset   // nil when the profile has no reset: section
	Version  string   // hex SHA-256 of the profile's content (see the README)
	HashAlgo int      // HashAlgo at load time
	Warnings []string // e.g. "Handler.ts is ignored; use a users step"
	// KeyNotes are the keys starting with "$" or containing "." in what
	// the profile writes, at most Limits.MaxProblems of them;
	// KeyNotesMore counts the others.
	KeyNotes     []KeyNote
	KeyNotesMore int
}

// Reset lists what `run --reset` (and `bootstrap reset`) removes before
// the profile is applied. A srvthreds-form profile gets the legacy reset:
// DropDatabases [its database, then those its Handler.ts cleanup() drops]
// and RedisAll.
type Reset struct {
	Collections []string `yaml:"collections"` // in the profile's database
	RedisKeys   []string `yaml:"redis"`       // exact keys or glob patterns (SCAN MATCH)
	// DropDatabases are whole databases to drop, in order, without
	// duplicates (manifest: databases).
	DropDatabases []string `yaml:"databases"`
	// RedisAll deletes every key of the selected Redis database except
	// bootstrap's own (those starting with RedisOwnPrefix), key by key:
	// never FLUSHDB, which would drop the lock of the run (manifest:
	// redisAll).
	RedisAll bool `yaml:"redisAll"`
}

// Step is one step of a profile. Exactly one of the kind-specific pointers
// is set, matching Kind.
type Step struct {
	Kind      string
	Index     int    // position in the profile, from 0
	Database  string // the step's database (profile default unless overridden)
	Configs   *ConfigsStep
	Patterns  *PatternsStep
	Users     *UsersStep
	Documents *DocumentsStep
	Redis     *RedisStep
	HTTP      *HTTPStep
	Exec      *ExecStep
	Upsert    *MatchStep // KindUpsert
	Replace   *MatchStep // KindReplace
	// OmitKeys are the step's omitKeys: (configs, patterns and documents
	// steps): keys left out of its documents, at any depth, besides
	// Options.OmitKeys.
	OmitKeys []string
	// NoIndex (documents, upsert and replace steps: `index: false`): no
	// index is made sure of on the key the step's writes match on.
	NoIndex bool
}

// Name is "<index>:<kind>", used in logs, audit records and markers.
func (s Step) Name() string { return strconv.Itoa(s.Index) + ":" + s.Kind }

// ConfigsStep: for each <dir>/<name>.json, <db>.Config
// updateOne({_id: name}, {$set: {config: JSON, modified: now}}, upsert).
type ConfigsStep struct {
	Dir   string
	Items []ConfigItem // sorted by Name
}

// ConfigItem is one run-config file.
type ConfigItem struct {
	Name string          // file name without .json
	File string          // path relative to the profiles dir, for messages
	JSON json.RawMessage // the file's JSON, verbatim
}

// PatternsStep: replace-upsert into <db>.PatternModel and the Redis cache of
// active patterns.
type PatternsStep struct {
	Dir   string
	Items []PatternItem // sorted by ID
}

// PatternItem is one pattern file.
type PatternItem struct {
	ID     string          // the pattern's "id" field
	File   string          // path relative to the profiles dir
	Active bool            // meta.active == true
	JSON   json.RawMessage // the file's JSON, verbatim (with id, created, modified)
}

// UsersStep: replace-upsert into <db>.User with bcrypt-hashed passwords.
type UsersStep struct {
	File  string
	Users []User
}

// User is one user of a users step. The password is never logged.
type User struct {
	ID       string
	Password PasswordSource
	// Fields are the user's other fields as given, in order, as the BSON
	// values to store: no _id, id, password, created or modified; roles
	// always a list of objects {name: ...} ("admin" is stored as {name:
	// "admin"}). Absent fields are absent. This is what the document
	// stores: {_id: ID, <Fields...>, password: <hash>, modified: <now>}.
	Fields bson.D
	// FirstName, LastName and Roles repeat the firstName and lastName
	// fields when they are strings, and the roles' names; Fields is the
	// complete record.
	FirstName string
	LastName  string
	Roles     []string
	Line      int // line in the users file (or Handler.ts), for messages
}

// PasswordSource is where a user's password comes from: exactly one of
// Value (inline in the profile), Env (an environment variable) or File (a
// file path, typically a mounted Kubernetes secret; absolute paths allowed,
// read once before the run connects, never hashed).
type PasswordSource struct {
	Value string
	Env   string
	File  string
	// Where is the place of the env: or file: reference in the profile
	// (Msg empty), for the messages of a preflight.
	Where Problem
}

// DocumentsStep: generic replace-upsert by Key into <db>.<Collection>.
type DocumentsStep struct {
	Collection string
	Dir        string
	Key        string // field matched for the upsert; default "_id"
	Items      []DocumentItem
}

// DocumentItem is one document. A file may hold one object or an array of
// objects.
type DocumentItem struct {
	File  string
	Index int // position in the file's array, or 0
	// InArray is true when the file is an array of documents (Index is
	// then meaningful).
	InArray bool
	Key     any             // the value of the key field, as decoded from JSON
	JSON    json.RawMessage // the document verbatim
}

// RedisStep: generic Redis keys.
type RedisStep struct {
	File string
	Keys []RedisKey
}

// RedisKey is one key of a redis step. Exactly one of String, Hash or Set
// is meaningful, matching Type.
type RedisKey struct {
	Key    string
	Type   string // "string", "hash" or "set"
	String string
	Hash   map[string]string
	Set    []string
	TTL    time.Duration // 0: no expiry
	Line   int
}

// HTTPStep calls an HTTP endpoint with retries (go-retryablehttp).
type HTTPStep struct {
	Method      string
	URL         string
	Expect      []int         // default [200, 201, 202, 204]
	Timeout     time.Duration // overall, default 30s
	Retries     int           // default 4
	Headers     map[string]string
	HeadersFrom map[string]SecretSource // header name -> secret, read once before the run connects
	Body        []byte                  // from body file, hashed
	BodyFile    string
	// SafeParams names the query parameters that may be shown with their
	// values in logs, plans and audit records; every other parameter is
	// dropped from what is shown (a query may carry a token).
	SafeParams []string
}

// SecretSource is an environment variable or a file path.
type SecretSource struct {
	Env  string `yaml:"env"`
	File string `yaml:"file"`
	// Where is the place of the reference in the profile (Msg empty), for
	// the messages of a preflight.
	Where Problem `yaml:"-"`
}

// ExecStep runs a command (argument list, no shell).
type ExecStep struct {
	Command []string
	Timeout time.Duration // default 5m
	Env     map[string]string
	// PassEnv names variables of the runner's environment passed to the
	// command, besides the allow-list (PATH, HOME, TZ, LANG, LC_ALL,
	// SSL_CERT_FILE, SSL_CERT_DIR, TMPDIR); nothing else is inherited.
	PassEnv []string
	// Quiet logs only how many lines the command wrote, not the lines.
	Quiet bool
}
