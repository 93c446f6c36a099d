import { UserController } from '../../ts/auth/UserController';
import { PersistenceFactory } from '../../ts/persistence/PersistenceFactory';
import { Logger } from '../../ts/thredlib/index';

interface Seed {
  id: string;
  label: string;
}

// Shaped like the srvthreds run-profiles handlers: private methods called
// through this, a const for the controller and for the persistence.
export default class Handler {
  private readonly seeds: Seed[] = [
    { id: 'alpha', label: 'Alpha' },
    { id: 'beta', label: 'Beta' },
  ];

  async run(): Promise<void> {
    Logger.info(`Running dev handler`);
    await this.createUsers();
    await this.seedThings();
    Logger.info('dev handler done');
  }

  async cleanup(): Promise<void> {
    await PersistenceFactory.removeDatabase({ dbname: 'test' });
    await PersistenceFactory.removeDatabase({ dbname: 'demo' });
  }

  private async createUsers(): Promise<void> {
    const uc = UserController.get();
    await uc.replaceUser({
      id: 'admin',
      password: 'admin-secret-pw',
      firstName: 'Ada',
      lastName: 'Admin',
      roles: [{ name: 'admin' }],
      created: new Date(),
    });
    await uc.replaceUser({ id: 'participant0', password: 'p0-secret-pw', firstName: 'Pat' });
    await uc.replaceUser({ id: 'participant1', password: 'p1-secret-pw', roles: ['participant'], age: 31, badge: '0042', active: true });
  }

  private async seedThings(): Promise<void> {
    const persistence = PersistenceFactory.getPersistence({ dbname: 'test' });
    for (const s of this.seeds) {
      await persistence.upsert({ type: 'Thing', values: { id: s.id, label: s.label, count: 1 }, matcher: { id: s.id } });
    }
    await PersistenceFactory.getPersistence({ dbname: 'demo' }).replace({
      type: 'Settings',
      values: { id: 'global', theme: 'dark', modified: new Date() },
      matcher: { id: 'global' },
    });
    // No id in the matcher: a new document gets an ObjectId _id, and id stays a field.
    await persistence.upsert({ type: 'Thing', values: { id: 'gamma', label: 'Gamma' }, matcher: { name: 'gamma', kind: 'seed' } });
  }
}
