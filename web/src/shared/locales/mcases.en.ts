import type { MobileCaseMessages } from './mcases.zh-CN'

const mcasesEn: MobileCaseMessages = {
  title: 'Cases',
}

export default mcasesEn
