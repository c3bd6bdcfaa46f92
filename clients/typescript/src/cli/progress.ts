/**
 * A one-line progress bar for a terminal: redrawn in place with `\r`, at most
 * every 100 ms, and erased when done. Only used when stderr is a TTY, so
 * logs and pipes never see control characters.
 */
export class ProgressBar {
  #last = 0;
  #drawn = false;

  constructor(
    private readonly out: { write(text: string): unknown; columns?: number },
    private readonly label: string,
  ) {}

  update(done: number, total: number, force = false): void {
    const now = Date.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    const width = Math.max(10, Math.min(40, (this.out.columns || 80) - this.label.length - 30));
    const ratio = total === 0 ? 1 : Math.min(1, done / total);
    const filled = Math.round(ratio * width);
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
    this.out.write(`\r${this.label} ${bar} ${done}/${total} batches ${String(Math.floor(ratio * 100)).padStart(3)}%`);
    this.#drawn = true;
  }

  /** Erases the bar so the next line starts clean. */
  clear(): void {
    if (this.#drawn) this.out.write('\r\x1b[2K');
    this.#drawn = false;
  }
}
