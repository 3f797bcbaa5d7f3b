import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router'
import { fetchMe, me, can } from '@/shared/session'
import { loadMeta } from '@/shared/meta'

declare module 'vue-router' {
  interface RouteMeta {
    public?: boolean
    permission?: string
    /** the side menu entry to highlight (default: the route's path) */
    menu?: string
  }
}

export const router = createRouter({
  history: createWebHistory('/'),
  routes: [
    { path: '/login', name: 'login', component: () => import('./pages/LoginPage.vue'), meta: { public: true } },
    {
      path: '/',
      component: () => import('./MainLayout.vue'),
      children: [
        { path: '', redirect: { name: 'territory' } },
        { path: 'territory', name: 'territory', component: () => import('./pages/TerritoryPage.vue') },
        { path: 'map', name: 'map', component: () => import('./pages/GridMapPage.vue') },
        { path: 'grid-changes', name: 'grid-changes', component: () => import('./pages/GridChangesPage.vue') },
        { path: 'team-report', name: 'team-report', component: () => import('./pages/TeamReportPage.vue') },
        {
          path: 'users',
          name: 'users',
          component: () => import('./pages/UsersPage.vue'),
          meta: { permission: 'user.manage' },
        },
        { path: 'tokens', name: 'tokens', component: () => import('./pages/TokensPage.vue') },
        // the case loop
        {
          path: 'dashboard',
          name: 'dashboard',
          component: () => import('./pages/DashboardPage.vue'),
          meta: { permission: 'case.read' },
        },
        { path: 'cases', name: 'cases', component: () => import('./pages/CaseListPage.vue') },
        {
          path: 'cases/new',
          name: 'case-new',
          component: () => import('./pages/CaseNewPage.vue'),
          meta: { permission: 'case.read' },
        },
        {
          path: 'cases/:id(\\d+)',
          name: 'case-detail',
          component: () => import('./pages/CaseDetailPage.vue'),
          meta: { menu: '/cases' },
        },
        {
          path: 'case-supervision',
          name: 'case-supervision',
          component: () => import('./pages/CaseSupervisionPage.vue'),
          meta: { permission: 'case.read' },
        },
        {
          path: 'case-overdue',
          name: 'case-overdue',
          component: () => import('./pages/CaseOverduePage.vue'),
          meta: { permission: 'case.read' },
        },
        {
          path: 'case-unreported',
          name: 'case-unreported',
          component: () => import('./pages/CaseUnreportedPage.vue'),
          meta: { permission: 'case.read' },
        },
        {
          path: 'catalogue',
          name: 'catalogue',
          component: () => import('./pages/CatalogueEditorPage.vue'),
          meta: { permission: 'case.configure' },
        },
        { path: 'departments', name: 'departments', component: () => import('./pages/DepartmentsPage.vue') },
        {
          path: 'calendar',
          name: 'calendar',
          component: () => import('./pages/CalendarPage.vue'),
          meta: { permission: 'case.read' },
        },
        {
          path: 'outbox',
          name: 'outbox',
          component: () => import('./pages/OutboxPage.vue'),
          meta: { permission: 'audit.read' },
        },
        {
          path: 'external-systems',
          name: 'external-systems',
          component: () => import('./pages/ExternalSystemsPage.vue'),
          meta: { permission: 'user.manage' },
        },
        {
          path: 'audit',
          name: 'audit',
          component: () => import('./pages/AuditPage.vue'),
          meta: { permission: 'audit.read' },
        },
      ],
    },
    // printable pages, without the app's header and menu
    { path: '/board/:code', name: 'board', component: () => import('./pages/BoardPage.vue') },
    { path: '/cards/:code', name: 'cards', component: () => import('./pages/ContactCardsPage.vue') },
    { path: '/:pathMatch(.*)*', redirect: { name: 'territory' } },
  ],
})

let booted = false

router.beforeEach(async (to: RouteLocationNormalized) => {
  if (!booted) {
    booted = true
    // Meta is public; the session probe tells whether we are logged in.
    await Promise.allSettled([loadMeta(), fetchMe()])
  }
  if (to.meta.public) {
    if (to.name === 'login' && me.value) {
      const redirect = typeof to.query.redirect === 'string' ? to.query.redirect : '/territory'
      return redirect.startsWith('/') && !redirect.startsWith('//') ? redirect : '/territory'
    }
    return true
  }
  if (!me.value) return { name: 'login', query: { redirect: to.fullPath } }
  if (to.meta.permission && !can(to.meta.permission)) return { name: 'territory' }
  return true
})
