package step

import (
	"maps"
	"path"
	"slices"
	"strconv"

	"github.com/srvthreds/bootstrap/profiles"
)

// Preflight reads every secret the steps of set will read when they are
// applied, through env.Getenv and env.ReadFile and with the same rules as
// Apply: each user's password (passwordFrom: env or file, and the length of
// an inline one), each http step's headersFrom, and BCRYPT_SALT_ROUNDS when
// a users step has users. It returns a problem for every one that is
// missing, empty or unusable, placed where the profile names it, its
// message naming the step, the user or header, and the variable or file,
// never a secret's value. It writes nothing.
func Preflight(env *Env, set *profiles.Set) []profiles.Problem {
	var probs []profiles.Problem
	costChecked := false
	for _, p := range set.Profiles {
		for _, s := range p.Steps {
			switch {
			case s.Users != nil && len(s.Users.Users) > 0:
				if !costChecked {
					costChecked = true
					if _, err := bcryptCost(env.Getenv); err != nil {
						probs = append(probs, problemAt(profiles.Problem{Profile: p.Name, File: path.Join(p.Name, s.Users.File)}, s, err))
					}
				}
				probs = append(probs, userProblems(env, p.Name, s)...)
			case s.HTTP != nil:
				probs = append(probs, headerProblems(env, p.Name, s)...)
			}
		}
	}
	return probs
}

// userProblems are the problems of the passwords of a users step.
func userProblems(env *Env, profile string, s profiles.Step) []profiles.Problem {
	var probs []profiles.Problem
	for i, u := range s.Users.Users {
		if _, err := userPassword(env, u); err != nil {
			at := u.Password.Where
			if at.File == "" { // an inline password (or one from Handler.ts)
				at = profiles.Problem{Profile: profile, File: path.Join(profile, s.Users.File), Line: u.Line, Field: "users[" + strconv.Itoa(i) + "].password"}
			}
			probs = append(probs, problemAt(at, s, err))
		}
	}
	return probs
}

// headerProblems are the problems of the secret headers of an http step,
// each header read alone so that every one is reported.
func headerProblems(env *Env, profile string, s profiles.Step) []profiles.Problem {
	var probs []profiles.Problem
	for _, name := range slices.Sorted(maps.Keys(s.HTTP.HeadersFrom)) {
		src := s.HTTP.HeadersFrom[name]
		one := &profiles.HTTPStep{HeadersFrom: map[string]profiles.SecretSource{name: src}}
		if _, _, err := httpHeaders(env, one); err != nil {
			at := src.Where
			if at.Profile == "" {
				at.Profile = profile
			}
			probs = append(probs, problemAt(at, s, err))
		}
	}
	return probs
}

// problemAt is the problem err of step s at the place at.
func problemAt(at profiles.Problem, s profiles.Step, err error) profiles.Problem {
	at.Msg = "step " + s.Name() + ": " + err.Error()
	return at
}
