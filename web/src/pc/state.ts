import { ref } from 'vue'
import type { Unit } from '@/shared/types'

/** The territory roots the user can see, and the one chosen in the header ('' = all). */
export const roots = ref<Unit[]>([])
export const selectedRoot = ref<string>('')
