/**
 * Named driver registries, in the manner of Go's database/sql: a program registers drivers under
 * names before boot(), and the configuration chooses them by name.
 */
export class DriverRegistry<T> {
  private readonly drivers = new Map<string, T>();

  constructor(private readonly kind: string) {}

  register(name: string, driver: T): void {
    if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`invalid ${this.kind} driver name ${JSON.stringify(name)}`);
    if (this.drivers.has(name)) throw new Error(`${this.kind} driver ${JSON.stringify(name)} is already registered`);
    this.drivers.set(name, driver);
  }

  get(name: string): T | undefined {
    return this.drivers.get(name);
  }

  names(): string[] {
    return [...this.drivers.keys()].sort();
  }
}
