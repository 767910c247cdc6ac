import 'uplot/dist/uPlot.min.css';
import './style.css';
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { configureApi } from './api.js';
import {
  completeSignIn,
  currentSession,
  freshToken,
  renewSession,
  restoreSession,
  signIn,
  signOut,
  type ConsoleConfig,
  type Session,
} from './auth.js';
import type { ComponentType } from 'preact';
import { hasRole, type PageProps } from './roles.js';

interface PageDef {
  readonly id: string;
  readonly title: string;
  /** Roles that may open the page (the API admits them on its routes). */
  readonly roles: readonly string[];
  /** The page's module, loaded when first opened (the policy compiler and the charts are large). */
  readonly load: () => Promise<ComponentType<PageProps>>;
}

const loaded = new Map<string, ComponentType<PageProps>>();

function LazyPage({ def, props }: { def: PageDef; props: PageProps }) {
  const [Page, setPage] = useState<ComponentType<PageProps> | undefined>(() => loaded.get(def.id));
  const [error, setError] = useState<string>();
  useEffect(() => {
    if (loaded.has(def.id)) return setPage(() => loaded.get(def.id));
    setPage(undefined);
    let live = true;
    def.load().then(
      (c) => {
        loaded.set(def.id, c);
        if (live) setPage(() => c);
      },
      (e: unknown) => live && setError((e as Error).message),
    );
    return () => {
      live = false;
    };
  }, [def.id]);
  if (error) return <p class="error">The page could not be loaded: {error}</p>;
  return Page ? <Page {...props} /> : <p class="muted">Loading…</p>;
}

const PAGES: readonly PageDef[] = [
  {
    id: 'approvals',
    title: 'Approvals',
    roles: ['approver', 'admin'],
    load: () => import('./pages/approvals.js').then((m) => m.ApprovalsPage),
  },
  {
    id: 'agents',
    title: 'Agents',
    roles: ['admin', 'auditor'],
    load: () => import('./pages/agents.js').then((m) => m.AgentsPage),
  },
  {
    id: 'traces',
    title: 'Traces',
    roles: ['admin', 'auditor'],
    load: () => import('./pages/traces.js').then((m) => m.TracesPage),
  },
  {
    id: 'audit',
    title: 'Audit',
    roles: ['admin', 'auditor'],
    load: () => import('./pages/audit.js').then((m) => m.AuditPage),
  },
  {
    id: 'policies',
    title: 'Policies',
    roles: ['admin', 'auditor'],
    load: () => import('./pages/policies.js').then((m) => m.PoliciesPage),
  },
  {
    id: 'budgets',
    title: 'Budgets',
    roles: ['admin', 'auditor'],
    load: () => import('./pages/budgets.js').then((m) => m.BudgetsPage),
  },
  {
    id: 'dashboard',
    title: 'Dashboard',
    roles: ['admin', 'auditor', 'approver'],
    load: () => import('./pages/dashboard.js').then((m) => m.DashboardPage),
  },
];

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Shell({ session, config }: { session: Session; config: ConsoleConfig }) {
  const hash = useHash();
  const allowed = PAGES.filter((p) => hasRole(session, ...p.roles));
  const [name = '', ...restParts] = hash.replace(/^#\/?/, '').split('/');
  const page = allowed.find((p) => p.id === name) ?? allowed[0];
  useEffect(() => {
    if (page) document.title = `${page.title} · ARX console`;
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [page?.id]);
  return (
    <>
      <button type="button" class="skip" onClick={() => document.getElementById('main')?.focus()}>
        Skip to content
      </button>
      <header class="top">
        <span class="brand">ARX</span>
        <span class="tenant">tenant {session.tenant}</span>
        <span class="who">
          {session.email ?? session.sub} · <b>{session.roles.join(', ') || 'no role'}</b>
        </span>
        <button
          type="button"
          class="secondary small"
          onClick={() => {
            signOut();
            location.reload();
          }}
        >
          Sign out
        </button>
      </header>
      <div class="layout">
        <nav aria-label="Console">
          <ul>
            {allowed.map((p) => (
              <li key={p.id}>
                <a href={`#/${p.id}`} aria-current={p === page ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {page ? (
            <>
              <h1>{page.title}</h1>
              <LazyPage def={page} props={{ session, config, rest: restParts.join('/') }} />
            </>
          ) : (
            <>
              <h1>No access</h1>
              <p>Your token carries no ARX role (admin, approver or auditor). Ask your IdP administrator.</p>
            </>
          )}
        </main>
      </div>
    </>
  );
}

function SignedOut({ config, error }: { config: ConsoleConfig; error?: string }) {
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="signin">
      <h1>ARX console</h1>
      <p>Approvals, agents, traces, audit and policies of your ARX control plane.</p>
      {error ? (
        <p class="error" role="alert">
          {error}
        </p>
      ) : null}
      <button
        type="button"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          void signIn(config).catch(() => setBusy(false));
        }}
      >
        Sign in with your organisation
      </button>
    </main>
  );
}

async function boot(): Promise<void> {
  const root = document.getElementById('app')!;
  const config = (await (await fetch('./config.json', { cache: 'no-store' })).json()) as ConsoleConfig;
  let error: string | undefined;
  let session: Session | null = null;
  try {
    session = (await completeSignIn(config)) ?? (await restoreSession(config));
  } catch (e) {
    error = (e as Error).message;
  }
  let reauthorizing = false;
  /** The session cannot be renewed: back to the issuer, returning to this page. */
  const signInAgain = () => {
    if (reauthorizing) return;
    reauthorizing = true;
    signOut();
    void signIn(config).catch((e: unknown) => {
      reauthorizing = false;
      render(<SignedOut config={config} error={`Your session ended: ${(e as Error).message}`} />, root);
    });
  };
  configureApi({
    baseUrl: config.api_url || location.origin,
    token: async () => {
      const t = await freshToken(config);
      if (!t) signInAgain();
      return t;
    },
    unauthorized: async () => {
      try {
        await renewSession(config);
        return true;
      } catch {
        signInAgain();
        return false;
      }
    },
  });
  // Renewed before it expires even when no page is asking for anything.
  if (session)
    setInterval(() => {
      if (!reauthorizing && currentSession()) void freshToken(config);
    }, 5_000);
  root.textContent = '';
  render(session ? <Shell session={session} config={config} /> : <SignedOut config={config} error={error} />, root);
}

void boot();
