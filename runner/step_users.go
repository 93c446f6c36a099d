package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/crypto/bcrypt"

	"github.com/srvthreds/bootstrap/profiles"
)

const (
	userCollection = "User"
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
func userPassword(env *stepEnv, u profiles.User) (string, error) {
	src := u.Password
	var pw string
	switch {
	case src.Value != "":
		pw = src.Value
	case src.Env != "":
		pw = envGetenv(env)(src.Env)
		if pw == "" {
			return "", fmt.Errorf("user %q: password variable %s is unset or empty", u.ID, src.Env)
		}
	case src.File != "":
		read := env.ReadFile
		if read == nil {
			read = os.ReadFile
		}
		b, err := read(src.File)
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

func envGetenv(env *stepEnv) func(string) string {
	if env.Getenv != nil {
		return env.Getenv
	}
	return os.Getenv
}

// hashPasswords resolves and bcrypt-hashes the password of every user with
// a pool of GOMAXPROCS workers, reporting a heartbeat to progress after
// each hash (one call at a time). It stops at the first error or when ctx
// ends.
func hashPasswords(ctx context.Context, env *stepEnv, users []profiles.User, cost int, progress Progress) ([][]byte, error) {
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
				progress.Add(0)
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

// applyUsers replace-upserts every user of the step into <db>.User as
// {_id: id, password: bcrypt hash, firstName, lastName, roles, modified:
// now}. The cost is $BCRYPT_SALT_ROUNDS (default 12); passwords come from
// the profile, an environment variable or a file, and are never logged nor
// put in an error.
func applyUsers(ctx context.Context, env *stepEnv, s profiles.Step) (StepRecord, error) {
	rec := StepRecord{Name: s.Name(), Kind: s.Kind}
	if s.Users == nil {
		return rec, errors.New("users: step has no users")
	}
	users := s.Users.Users
	if len(users) == 0 {
		return rec, nil
	}
	cost, err := bcryptCost(envGetenv(env))
	if err != nil {
		return rec, fmt.Errorf("users: %w", err)
	}
	progress := envProgress(env)
	progress.SetTotal(int64(len(users)))
	hashes, err := hashPasswords(ctx, env, users, cost, progress)
	if err != nil {
		return rec, fmt.Errorf("users: %w", err)
	}
	now := bson.NewDateTimeFromTime(envNow(env))
	filters, docs := make([]any, len(users)), make([]any, len(users))
	for i, u := range users {
		roles := bson.A{}
		for _, r := range u.Roles {
			roles = append(roles, r)
		}
		filters[i] = bson.D{{Key: "_id", Value: u.ID}}
		docs[i] = bson.D{
			{Key: "_id", Value: u.ID},
			{Key: "password", Value: string(hashes[i])},
			{Key: "firstName", Value: u.FirstName},
			{Key: "lastName", Value: u.LastName},
			{Key: "roles", Value: roles},
			{Key: "modified", Value: now},
		}
	}
	coll := env.Mongo.Database(stepDatabase(env, s)).Collection(userCollection)
	rec.Written, err = bulkReplaceUpsert(ctx, envLog(env), coll, filters, docs, envBatchSize(env), progress)
	if err != nil {
		return rec, fmt.Errorf("users: %w", err)
	}
	return rec, nil
}
