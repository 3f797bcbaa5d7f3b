import { createApp, watch } from 'vue'
import Vant, { Locale, showToast } from 'vant'
import enUS from 'vant/es/locale/lang/en-US'
import zhCN from 'vant/es/locale/lang/zh-CN'
import 'vant/lib/index.css'
import App from './App.vue'
import { router } from './router'
import { currentLang, errorText, i18n } from '@/shared/i18n'
import { setErrorNotifier, setUnauthenticatedHandler } from '@/shared/api'
import { clearSession, me } from '@/shared/session'
import { flushOutbox, onSent, startOutbox } from './cases/outbox'
import './style.css'

function applyVantLocale(lang: string) {
  if (lang === 'en') Locale.use('en-US', enUS)
  else Locale.use('zh-CN', zhCN)
  document.documentElement.lang = lang
}
applyVantLocale(currentLang.value)
watch(currentLang, applyVantLocale)

setErrorNotifier((err) => {
  showToast({ message: errorText(err), position: 'top' })
})

setUnauthenticatedHandler(() => {
  clearSession()
  const current = router.currentRoute.value
  if (current.name !== 'login') void router.push({ name: 'login', query: { redirect: current.fullPath } })
})

const app = createApp(App)
// Errors the components do not handle: logged with a marker that the end-to-end tests look for.
app.config.errorHandler = (err, _instance, info) => {
  console.error(`[wangge] unhandled error (${info}):`, err)
}
app.use(i18n).use(Vant).use(router).mount('#app')

// Reports made offline go out once the phone is back online (and once the user who made them is
// signed in again); each delivery is told.
void router.isReady().then(() => {
  startOutbox()
  watch(me, (m) => {
    if (m) void flushOutbox()
  })
})
onSent((s) => {
  showToast({
    message: s.receipt
      ? i18n.global.t('mcases.public.sentLater', { code: s.receipt.tracking_code })
      : i18n.global.t('mcases.outbox.sent', { n: 1 }),
    position: 'top',
    duration: s.receipt ? 6000 : 2000,
  })
})
