import { createApp } from 'vue'
import ElementPlus, { ElMessage } from 'element-plus'
import 'element-plus/dist/index.css'
import App from './App.vue'
import { router } from './router'
import { i18n, errorText, currentLang } from '@/shared/i18n'
import { setErrorNotifier, setUnauthenticatedHandler } from '@/shared/api'
import { clearSession } from '@/shared/session'
import './style.css'

setErrorNotifier((err) => {
  ElMessage({ type: 'error', message: errorText(err), grouping: true, showClose: true })
})

setUnauthenticatedHandler(() => {
  clearSession()
  const current = router.currentRoute.value
  if (current.name !== 'login') {
    void router.push({ name: 'login', query: { redirect: current.fullPath } })
  }
})

document.documentElement.lang = currentLang.value

const app = createApp(App)
// Errors the components do not handle: logged with a marker that the end-to-end tests look for.
app.config.errorHandler = (err, _instance, info) => {
  console.error(`[wangge] unhandled error (${info}):`, err)
}
app.use(i18n).use(ElementPlus).use(router).mount('#app')
