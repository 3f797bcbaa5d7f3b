import { createRouter, createWebHistory } from 'vue-router'
import { fetchMe, me } from '@/shared/session'
import { loadMeta } from '@/shared/meta'

declare module 'vue-router' {
  interface RouteMeta {
    public?: boolean
    tab?: string
  }
}

export const router = createRouter({
  history: createWebHistory('/m/'),
  routes: [
    { path: '/login', name: 'login', component: () => import('./pages/LoginPage.vue'), meta: { public: true } },
    // a grid's public page, opened from its QR code (no login), and what residents do from it
    { path: '/grid/:code', name: 'grid', component: () => import('./pages/GridPage.vue'), meta: { public: true } },
    {
      path: '/grid/:code/report',
      name: 'public-report',
      component: () => import('./pages/PublicReportPage.vue'),
      meta: { public: true },
    },
    { path: '/receipt/:code', name: 'receipt', component: () => import('./pages/ReceiptPage.vue'), meta: { public: true } },
    { path: '/track/:code?', name: 'track', component: () => import('./pages/TrackPage.vue'), meta: { public: true } },
    { path: '/cases/new', name: 'case-new', component: () => import('./pages/CaseReportPage.vue') },
    { path: '/cases/:id(\\d+)', name: 'case', component: () => import('./pages/CaseDetailPage.vue') },
    { path: '/notifications', name: 'notifications', component: () => import('./pages/NotificationsPage.vue') },
    {
      path: '/',
      component: () => import('./TabLayout.vue'),
      children: [
        { path: '', name: 'home', component: () => import('./pages/HomePage.vue'), meta: { tab: 'home' } },
        { path: 'cases', name: 'cases', component: () => import('./pages/CasesPage.vue'), meta: { tab: 'cases' } },
        {
          path: 'territory/:code?',
          name: 'territory',
          component: () => import('./pages/TerritoryPage.vue'),
          meta: { tab: 'territory' },
        },
      ],
    },
    { path: '/:pathMatch(.*)*', redirect: { name: 'home' } },
  ],
})

let booted = false

router.beforeEach(async (to) => {
  if (!booted) {
    booted = true
    await Promise.allSettled([loadMeta(), fetchMe()])
  }
  if (to.meta.public) {
    if (to.name === 'login' && me.value) return { name: 'home' }
    return true
  }
  if (!me.value) return { name: 'login', query: { redirect: to.fullPath } }
  return true
})
