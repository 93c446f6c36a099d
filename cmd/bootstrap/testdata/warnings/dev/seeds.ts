// A helper module beside the Handler.ts, as some srvthreds run-profiles have:
// bootstrap reads only Handler.ts and warns that this file is ignored.
export const SEEDS = ['alpha', 'beta'];
