package step

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/crypto/bcrypt"

	"github.com/srvthreds/bootstrap/internal/panics"
	"github.com/srvthreds/bootstrap/profiles"
	"github.com/srvthreds/bootstrap/store"
)

// users replace-upserts every user of the step into <db>.User as the
// services' UserController.replaceUser stores it: {_id: id, <the user's
// other fields as given, absent ones absent, roles as objects {name}>,
// password: bcrypt hash, modified: now}. The cost
// is $BCRYPT_SALT_ROUNDS (default 12); passwords come from the profile, an
// environment variable or a file, and are never logged nor put in an error,
// nor in Writes (which leaves the password out).
type users struct{}

const (
	// UserCollection is where a users step writes.
	UserCollection = "User"
	// bcryptCostEnv names the variable the services already use for the
	// bcrypt cost.
	bcryptCostEnv     = "BCRYPT_SALT_ROUNDS"
	defaultBcryptCost = 12
	// bcryptMaxPassword is bcrypt's input limit. Longer passwords are
	// refused rather than silently truncated.
	bcryptMaxPassword = 72
)

// bcryptCost reads BCRYPT_SALT_ROUNDS: unset or empty means 12; anything
// that is not an integer from 4 to 31 is an error naming the variable.
func bcryptCost(getenv func(string) string) (int, error) {
	v := strings.TrimSpace(getenv(bcryptCostEnv))
	if v == "" {
		return defaultBcryptCost, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < bcrypt.MinCost || n > bcrypt.MaxCost {
		return 0, fmt.Errorf("%s=%q: want an integer from %d to %d", bcryptCostEnv, v, bcrypt.MinCost, bcrypt.MaxCost)
	}
	return n, nil
}

// userPassword resolves a user's password source. Errors name the user and
// the variable or file, never the password.
func userPassword(env *Env, u profiles.User) (string, error) {
	src := u.Password
	var pw string
	switch {
	case src.Value != "":
		pw = src.Value
	case src.Env != "":
		pw = env.Getenv(src.Env)
		if pw == "" {
			return "", fmt.Errorf("user %q: password variable %s is unset or empty", u.ID, src.Env)
		}
	case src.File != "":
		b, err := env.ReadFile(src.File)
		if err != nil {
			return "", fmt.Errorf("user %q: password file: %w", u.ID, err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return "", fmt.Errorf("user %q: password file %s is empty", u.ID, src.File)
		}
	default:
		return "", fmt.Errorf("user %q: no password source", u.ID)
	}
	if len(pw) > bcryptMaxPassword {
		return "", fmt.Errorf("user %q: password is longer than bcrypt's %d bytes", u.ID, bcryptMaxPassword)
	}
	return pw, nil
}

// hashPasswords resolves and bcrypt-hashes the password of every user with
// a pool of GOMAXPROCS workers, reporting a heartbeat to progress after
// each hash (one call at a time). It stops at the first error or when ctx
// ends.
func hashPasswords(ctx context.Context, env *Env, users []profiles.User, cost int) ([][]byte, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	hashes := make([][]byte, len(users))
	next := make(chan int)
	var (
		wg sync.WaitGroup
		mu sync.Mutex // serializes the heartbeats
	)
	for range min(runtime.GOMAXPROCS(0), len(users)) {
		wg.Go(func() {
			defer panics.Recover(env.Log, "password hashing", cancel)
			for i := range next {
				pw, err := userPassword(env, users[i])
				if err == nil {
					hashes[i], err = bcrypt.GenerateFromPassword([]byte(pw), cost)
					if err != nil {
						// bcrypt's errors do not contain the password.
						err = fmt.Errorf("user %q: hash password: %w", users[i].ID, err)
					}
				}
				if err != nil {
					cancel(err)
					continue
				}
				mu.Lock()
				env.Progress.Add(0)
				mu.Unlock()
			}
		})
	}
feed:
	for i := range users {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	return hashes, nil
}

func (users) WritesRedis() bool { return false }

func (users) Writes(env *Env, s profiles.Step) (*Writes, error) {
	if s.Users == nil {
		return nil, errors.New("users: step has no users")
	}
	now := bson.NewDateTimeFromTime(env.Now)
	ds := &DocSet{DB: env.DB, Coll: UserCollection, Field: "_id", Ignore: []string{"password", "modified"},
		Note: "passwords not compared (every apply hashes them anew)"}
	for _, u := range s.Users.Users {
		doc := make(bson.D, 0, len(u.Fields)+3)
		doc = append(doc, bson.E{Key: "_id", Value: u.ID})
		doc = append(doc, u.Fields...)
		doc = append(doc, bson.E{Key: "modified", Value: now})
		ds.Docs = append(ds.Docs, Doc{Key: u.ID, Doc: doc})
	}
	return &Writes{Docs: []*DocSet{ds}}, nil
}

func (k users) Apply(ctx context.Context, env *Env, s profiles.Step) (store.StepRecord, error) {
	rec := store.StepRecord{Name: s.Name(), Kind: s.Kind}
	w, err := k.Writes(env, s)
	if err != nil || len(s.Users.Users) == 0 {
		return rec, err
	}
	cost, err := bcryptCost(env.Getenv)
	if err != nil {
		return rec, fmt.Errorf("users: %w", err)
	}
	env.Progress.SetTotal(int64(len(s.Users.Users)))
	hashes, err := hashPasswords(ctx, env, s.Users.Users, cost)
	if err != nil {
		return rec, fmt.Errorf("users: %w", err)
	}
	ds := w.Docs[0]
	for i := range ds.Docs {
		d := ds.Docs[i].Doc // {_id, <fields>, modified}: the hash goes before modified
		last := len(d) - 1
		ds.Docs[i].Doc = append(d[:last:last], bson.E{Key: "password", Value: string(hashes[i])}, d[last])
	}
	rec.Written, err = ds.write(ctx, env)
	if err != nil {
		return rec, fmt.Errorf("users: %w", err)
	}
	return rec, nil
}

// Verify counts the users whose stored password hash does not verify
// against their password source (a rotated secret): bcrypt's own
// comparison, at the cost the stored hash carries, so nothing easier to
// crack than the hash is ever stored. A user with no stored document counts
// too. It writes nothing.
func (users) Verify(ctx context.Context, env *Env, s profiles.Step) (int, error) {
	if s.Users == nil {
		return 0, nil
	}
	coll := env.Mongo.Database(env.DB).Collection(UserCollection)
	n := 0
	for _, u := range s.Users.Users {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		pw, err := userPassword(env, u)
		if err != nil {
			return n, fmt.Errorf("users: %w", err)
		}
		var doc struct {
			Password string `bson:"password"`
		}
		if err := coll.FindOne(ctx, bson.D{{Key: "_id", Value: u.ID}}).Decode(&doc); err != nil {
			n++
			continue
		}
		if bcrypt.CompareHashAndPassword([]byte(doc.Password), []byte(pw)) != nil {
			n++
		}
		env.Progress.Add(0)
	}
	return n, nil
}

// Verifier is a kind that checks, beyond its Writes, what only it can (the
// users kind: passwords against their secrets).
type Verifier interface {
	Verify(ctx context.Context, env *Env, s profiles.Step) (int, error)
}

var _ Verifier = users{}
