import { UserController } from '../../ts/auth/UserController';
import { PersistenceFactory } from '../../ts/persistence/PersistenceFactory';
import { Logger } from '../../ts/thredlib';

interface Seed {
  id: string;
  label: string;
}

export default class Handler {
  private readonly seeds: Seed[] = [
    { id: 'alpha', label: 'Alpha' },
    { id: 'beta', label: 'Beta' },
  ];

  async run(): Promise<void> {
    Logger.info(`Running dev handler`);
    await this.createUsers();
    await this.seedThings();
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
    await uc.replaceUser({ id: 'participant0', password: 'p0-secret', firstName: 'Pat' });
  }

  private async seedThings(): Promise<void> {
    const persistence = PersistenceFactory.getPersistence({ dbname: 'test' });
    for (const s of this.seeds) {
      await persistence.upsert({ type: 'Thing', values: { id: s.id, label: s.label, count: 1 }, matcher: { id: s.id } });
    }
    await PersistenceFactory.getPersistence().replace({
      type: 'Settings',
      values: { id: 'global', theme: 'dark', modified: new Date() },
      matcher: { id: 'global' },
    });
    Logger.info('done');
  }
}
