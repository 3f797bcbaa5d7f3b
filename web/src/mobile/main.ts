import { createApp, watch } from 'vue'
import Vant, { Locale, showToast } from 'vant'
import enUS from 'vant/es/locale/lang/en-US'
import zhCN from 'vant/es/locale/lang/zh-CN'
import 'vant/lib/index.css'
import App from './App.vue'
import { router } from './router'
import { currentLang, errorText, i18n } from '@/shared/i18n'
import { setErrorNotifier, setUnauthenticatedHandler } from '@/shared/api'
import { clearSession } from '@/shared/session'
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
